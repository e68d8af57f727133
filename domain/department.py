"""The department's register: who owns what, its fixed columns, its meetings' action items.

R-KPI counts each cadence period, inquiry and obligation against its owner, so who owned a
platform, a mini program section or a fixed column on a given day is a fact with history: an
assignment has a first day and is never overwritten, a later one takes over from its own first
day. The fixed columns (R-FIXED-MONTHLY) are declared here, and the action items the weekly and
monthly meetings set (R-WEEKLY, R-MONTHLY) are recorded here and marked done, so the next
monthly report can review them. Only the operations manager changes the register.
"""

from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from domain.cadence import Column, subjects
from domain.commands import Actor
from domain.decider import Decider
from domain.durations import Instant
from domain.errors import Forbidden, Invalid
from domain.events import REGISTRY, DomainEvent
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Permission, Role, require
from domain.rules import RuleId
from domain.text import Text

REGISTER_ID = "department"
"""The one register's workflow and stream."""
AHEAD_AT_MOST = timedelta(days=366)
"""An assignment or a due date is at most a year ahead: a typo's year must not stand."""
SubjectKey = Annotated[
    str, Field(pattern=r"^(website|[a-z_]+|miniprogram:[a-z_]+|column:[a-z0-9][a-z0-9-]{0,63})$")
]
ColumnId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
ActionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


# --- events ----------------------------------------------------------------------------------


@REGISTRY.register
class OwnerAssigned(DomainEvent):
    type: Literal["department.owner_assigned"] = "department.owner_assigned"
    subject: str
    user: str
    starts_on: date
    by: str
    at: Instant


@REGISTRY.register
class ColumnDeclared(DomainEvent):
    type: Literal["department.column_declared"] = "department.column_declared"
    column: Column
    by: str
    at: Instant


@REGISTRY.register
class ColumnRetired(DomainEvent):
    type: Literal["department.column_retired"] = "department.column_retired"
    column_id: str
    by: str
    at: Instant


@REGISTRY.register
class ActionRecorded(DomainEvent):
    type: Literal["department.action_recorded"] = "department.action_recorded"
    action_id: str
    report_id: str
    text: str
    owner: str
    due: date
    by: str
    at: Instant


@REGISTRY.register
class ActionDone(DomainEvent):
    type: Literal["department.action_done"] = "department.action_done"
    action_id: str
    by: str
    at: Instant


DepartmentEvent = Annotated[
    OwnerAssigned | ColumnDeclared | ColumnRetired | ActionRecorded | ActionDone, Field(discriminator="type")
]


# --- state -----------------------------------------------------------------------------------


class Assignment(BaseModel):
    user: str
    starts_on: date
    by: str
    at: Instant


class Action(BaseModel):
    id: str
    report_id: str
    text: str
    owner: str
    due: date
    by: str
    at: Instant
    done_at: Instant | None = None
    done_by: str | None = None


class Register(BaseModel):
    owners: dict[str, list[Assignment]] = Field(default_factory=dict)
    """Each subject's assignments in the order they were recorded."""
    columns: dict[str, Column] = Field(default_factory=dict)
    retired: dict[str, Instant] = Field(default_factory=dict)
    actions: dict[str, Action] = Field(default_factory=dict)

    def owner_on(self, subject: str, day: date) -> str | None:
        """Who owned `subject` on `day`: the assignment with the latest first day not after it (of two
        with the same first day, the one recorded later: a correction)."""
        best: Assignment | None = None
        for a in self.owners.get(subject, []):
            if a.starts_on <= day and (best is None or a.starts_on >= best.starts_on):
                best = a
        return best.user if best else None

    def active_columns(self) -> list[Column]:
        return [c for c in self.columns.values() if c.id not in self.retired]


def evolve(state: Register, event: DomainEvent) -> Register:
    s = state.model_copy(deep=True)
    if isinstance(event, OwnerAssigned):
        s.owners.setdefault(event.subject, []).append(
            Assignment(user=event.user, starts_on=event.starts_on, by=event.by, at=event.at)
        )
    elif isinstance(event, ColumnDeclared):
        s.columns[event.column.id] = event.column
        s.retired.pop(event.column.id, None)
    elif isinstance(event, ColumnRetired):
        s.retired[event.column_id] = event.at
    elif isinstance(event, ActionRecorded):
        s.actions[event.action_id] = Action(
            id=event.action_id,
            report_id=event.report_id,
            text=event.text,
            owner=event.owner,
            due=event.due,
            by=event.by,
            at=event.at,
        )
    elif isinstance(event, ActionDone):
        action = s.actions[event.action_id]
        s.actions[event.action_id] = action.model_copy(update={"done_at": event.at, "done_by": event.by})
    return s


# --- people's commands -----------------------------------------------------------------------


class AssignOwner(BaseModel):
    kind: Literal["assign_owner"] = "assign_owner"
    actor: Actor
    subject: SubjectKey
    user: str = Field(min_length=1, max_length=64)
    starts_on: date
    at: Instant


class DeclareColumn(BaseModel):
    kind: Literal["declare_column"] = "declare_column"
    actor: Actor
    column_id: ColumnId
    name: Text = Field(min_length=1, max_length=60)
    platform: Platform
    at: Instant


class RetireColumn(BaseModel):
    kind: Literal["retire_column"] = "retire_column"
    actor: Actor
    column_id: ColumnId
    at: Instant


class RecordAction(BaseModel):
    kind: Literal["record_action"] = "record_action"
    actor: Actor
    action_id: ActionId
    report_id: str = Field(min_length=1, max_length=120)
    text: Text = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=64)
    due: date
    at: Instant


class CompleteAction(BaseModel):
    kind: Literal["complete_action"] = "complete_action"
    actor: Actor
    action_id: ActionId
    at: Instant


PersonCommand = Annotated[
    AssignOwner | DeclareColumn | RetireColumn | RecordAction | CompleteAction, Field(discriminator="kind")
]


def _today(at: Instant, policy: Policy) -> date:
    return at.astimezone(policy.zone).date()


def decide(command: BaseModel, state: Register, policy: Policy) -> list[DomainEvent]:
    if isinstance(command, AssignOwner):
        require(command.actor.roles, Permission.DEPARTMENT_MANAGE)
        if command.subject not in {x.key for x in subjects(policy, state.active_columns())}:
            rule = RuleId.FIXED_MONTHLY if command.subject.startswith("column:") else RuleId.KPI
            raise Invalid(
                rule, "not a cadence subject of the policy or a declared fixed column", field="subject"
            )
        if command.starts_on > _today(command.at, policy) + AHEAD_AT_MOST:
            raise Invalid(RuleId.KPI, "an assignment starts at most a year ahead", field="starts_on")
        return [
            OwnerAssigned(
                subject=command.subject,
                user=command.user,
                starts_on=command.starts_on,
                by=command.actor.id,
                at=command.at,
            )
        ]
    if isinstance(command, DeclareColumn):
        require(command.actor.roles, Permission.DEPARTMENT_MANAGE)
        column = Column(id=command.column_id, name=command.name, platform=command.platform)
        if state.columns.get(column.id) == column and column.id not in state.retired:
            return []  # declared as it is: nothing new
        return [ColumnDeclared(column=column, by=command.actor.id, at=command.at)]
    if isinstance(command, RetireColumn):
        require(command.actor.roles, Permission.DEPARTMENT_MANAGE)
        if command.column_id not in state.columns:
            raise Invalid(RuleId.FIXED_MONTHLY, "no fixed column of that id is declared", field="column_id")
        if command.column_id in state.retired:
            return []
        return [ColumnRetired(column_id=command.column_id, by=command.actor.id, at=command.at)]
    if isinstance(command, RecordAction):
        return _record_action(command, state, policy)
    if isinstance(command, CompleteAction):
        action = state.actions.get(command.action_id)
        if action is None:
            raise Invalid(RuleId.WEEKLY, "no action item of that id", field="action_id")
        if command.actor.id != action.owner and Role.OPERATIONS_MANAGER not in command.actor.roles:
            raise Forbidden(RuleId.WEEKLY, "only the item's owner or the operations manager marks it done")
        if action.done_at is not None:
            return []
        return [ActionDone(action_id=action.id, by=command.actor.id, at=command.at)]
    raise TypeError(f"not a register command: {type(command).__name__}")


def _record_action(command: RecordAction, state: Register, policy: Policy) -> list[DomainEvent]:
    require(command.actor.roles, Permission.ACTIONS_RECORD)
    known = state.actions.get(command.action_id)
    if known is not None:
        same = (known.report_id, known.text, known.owner, known.due) == (
            command.report_id,
            command.text,
            command.owner,
            command.due,
        )
        if same:
            return []  # the same item sent again
        raise Invalid(RuleId.WEEKLY, "an action item of that id exists with other content", field="action_id")
    today = _today(command.at, policy)
    if command.due < today:
        raise Invalid(RuleId.WEEKLY, "an action item is due today or later", field="due")
    if command.due > today + AHEAD_AT_MOST:
        raise Invalid(RuleId.WEEKLY, "an action item is due at most a year ahead", field="due")
    return [
        ActionRecorded(
            action_id=command.action_id,
            report_id=command.report_id,
            text=command.text,
            owner=command.owner,
            due=command.due,
            by=command.actor.id,
            at=command.at,
        )
    ]


def action_status(action: Action, as_of: Instant, policy: Policy) -> Literal["done", "not_done", "overdue"]:
    """How an action item stood at `as_of`: done by then, overdue (its due day is over), or not done."""
    if action.done_at is not None and action.done_at <= as_of:
        return "done"
    return "overdue" if _today(as_of, policy) > action.due else "not_done"


DEPARTMENT: Decider[Register] = Decider(initial=Register, decide=decide, evolve=evolve)
