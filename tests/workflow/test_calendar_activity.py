"""Due times asked of the calendar activity through a real worker, on both kinds of test server.

This is how every workflow will get a working-day deadline: once, by activity, recorded in its
history. It also proves the shared pydantic data converter round-trips our models through Temporal.
"""

from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import uuid

    import pytest
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities.calendar import DueTime, WorkingDaysDeadlineRequest, WorkingHoursRequest
    from domain.policy import Policy
    from domain.rules import RuleId
    from eventstore.store import EventStore
    from mediaops.settings import Settings
    from workers.worker import build_worker


@workflow.defn(sandboxed=True)
class AskDueTimes:
    """A workflow that asks for two due times, the way process workflows will."""

    @workflow.run
    async def run(self, ended_at: datetime) -> list[DueTime]:
        news = await workflow.execute_activity(
            "calendar.working_days_deadline",
            WorkingDaysDeadlineRequest(rule=RuleId.NEWS_3WD, ended_at=ended_at, working_days=3),
            result_type=DueTime,
            start_to_close_timeout=timedelta(seconds=30),
        )
        remind = await workflow.execute_activity(
            "calendar.working_hours_after",
            WorkingHoursRequest(rule=RuleId.APPROVAL_REMIND, start=ended_at, duration=timedelta(hours=4)),
            result_type=DueTime,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return [news, remind]


@pytest.fixture(params=["temporal_dev", "temporal_skipping"])
def env(request: pytest.FixtureRequest) -> WorkflowEnvironment:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def worker_for(env: WorkflowEnvironment, queue: str, policy: Policy, store: EventStore) -> Worker:
    """The production worker's wiring, plus the test's workflow."""
    return build_worker(env.client, Settings(task_queue=queue), policy, store, extra_workflows=[AskDueTimes])


async def test_due_times_through_the_worker(env: WorkflowEnvironment, store: EventStore) -> None:
    queue = f"calendar-{uuid.uuid4()}"
    ended = datetime(2026, 9, 24, 9, 0, tzinfo=UTC)  # Thursday 17:00 in Shanghai
    async with worker_for(env, queue, Policy(), store):
        news, remind = await env.client.execute_workflow(
            AskDueTimes.run, ended, id=f"due-{uuid.uuid4()}", task_queue=queue, result_type=list[DueTime]
        )
    assert news.rule is RuleId.NEWS_3WD
    assert news.at == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 30 Sep 24:00 Beijing time
    assert not news.guessed
    assert remind.at == datetime(2026, 9, 28, 4, 0, tzinfo=UTC)  # Monday 28 Sep 12:00 Beijing time


async def test_an_unannounced_year_is_flagged_not_hidden(env: WorkflowEnvironment, store: EventStore) -> None:
    queue = f"calendar-{uuid.uuid4()}"
    async with worker_for(env, queue, Policy(), store):
        news, _ = await env.client.execute_workflow(
            AskDueTimes.run,
            datetime(2031, 3, 6, 4, 0, tzinfo=UTC),
            id=f"due-{uuid.uuid4()}",
            task_queue=queue,
            result_type=list[DueTime],
        )
    assert news.guessed
    assert news.fallback_years == [2031]
