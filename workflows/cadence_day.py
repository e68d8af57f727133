"""The day's cadence run: opens every cadence period that holds today (`cadence-day` schedule).

A schedule starts it each day just after local midnight, and the workers start one when they
start (a stack started mid-week opens the current week too). For each subject (the policy's
platforms and sections, the declared fixed columns) it starts the period containing today as a
child under the period's own id, `cadence-<subject>-<period>`: Temporal refuses a second run of
an id, so a period is opened once however often this runs, and it outlives this run.
"""

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import cadence as c
    from domain.periods import containing
    from domain.policy import Policy
    from workflows.contracts import CadenceDayStart, CadenceStart
    from workflows.recording import ACTIVITY_TIMEOUT, READ_RETRY

SUBJECTS: type[list[c.Subject]] = list[c.Subject]


@workflow.defn(name="CadenceDay")
class CadenceDayWorkflow:
    @workflow.run
    async def run(self, _: CadenceDayStart) -> list[str]:
        """Open today's periods; returns the ids of those it opened (not those open already)."""
        policy = await workflow.execute_local_activity(
            "policy.in_force",
            result_type=Policy,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        subjects = await workflow.execute_activity(
            "cadence.subjects",
            result_type=SUBJECTS,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        opened = []
        for subject in subjects:
            period = containing(subject.kind, workflow.now(), policy.zone)
            child_id = c.stream_of(subject.key, period)
            try:
                await workflow.start_child_workflow(
                    "Cadence",
                    CadenceStart(subject=subject, first_day=period.first),
                    id=child_id,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                continue
            opened.append(child_id)
        return opened
