"""The department's register (`department`): owners, fixed columns and action items, on the shell.

One long-lived process, started by the workers (or by the API's first command) under its fixed
id. Each change is a signed, validated update from the operations manager (an item's owner may
mark it done), decided by domain/department.py and recorded in the `department` stream. Its
history grows with every change, so when it is long the run continues as a new one, carrying its
state, its record's version and its policy: nothing is redone and no change is lost.
"""

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import department as d
    from domain.rules import RuleId
    from workflows.contracts import DepartmentCarried, DepartmentStart, DepartmentView
    from workflows.shell import Process

_COMMANDS: TypeAdapter[d.PersonCommand] = TypeAdapter(d.PersonCommand)


def _parse(fields: Any) -> Any:
    return _COMMANDS.validate_python(fields)


@workflow.defn(name="Department")
class DepartmentWorkflow(Process[d.Register]):
    decider = d.DEPARTMENT

    @workflow.run
    async def run(self, start: DepartmentStart) -> None:
        carried = start.carried
        if carried is not None and workflow.info().continued_run_id is not None:
            self.carry_on(carried.appended, carried.policy)
            self.state = carried.state
        else:
            await self.begin(None)
        while not self.history_is_long():
            await workflow.wait_condition(self.changed_since(self.changes))
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = DepartmentCarried(appended=self.appended, policy=self.policy, state=self.state)
        workflow.continue_as_new(DepartmentStart(carried=carried))

    def changed_since(self, seen: int) -> Callable[[], bool]:
        """A change was recorded since `seen`, or the server suggests a new run."""
        return lambda: self.changes != seen or workflow.info().is_continue_as_new_suggested()

    def rules_of(self, events: Any) -> tuple[RuleId, ...]:
        kinds = {type(e) for e in events}
        if kinds & {d.ActionRecorded, d.ActionDone}:
            return (RuleId.WEEKLY,)
        return (RuleId.KPI,)

    def view(self) -> DepartmentView:
        return DepartmentView(department=self.state, decisions=self.decisions[-20:])

    @workflow.update
    async def change(self, command: Any) -> DepartmentView:
        """One signed change to the register: `assign_owner`, `declare_column`, `retire_column`,
        `record_action` or `complete_action` (its `kind`)."""
        await self.decide_for_person(command, _parse)
        return self.view()

    @change.validator
    def _change(self, command: Any) -> None:
        self.validate(command, _parse)

    @workflow.query
    def current(self) -> DepartmentView:
        return self.view()
