"""What every process workflow shares: recording its events, refusing with the rule's id, and
where platform calls go.

The decider shell is decide → append with the expected version → evolve. The append is the same
activity call for every process; the refusal of a person's command is the same update failure.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.eventstore import Appended, AppendRequest, EventDraft
    from domain.errors import DomainError
    from domain.events import DomainEvent, EventMetadata
    from domain.platforms import Platform

ACTIVITY_TIMEOUT = timedelta(seconds=60)
"""One attempt of any activity (a technical bound, not a rule's duration)."""
PLATFORM_RETRY = RetryPolicy(maximum_interval=timedelta(hours=1))
"""Platform calls may be retried: publish and reply are claimed, so a retry never acts twice."""


def platform_queue(platform: Platform) -> str:
    """Each platform's own task queue, throttled to the policy's calls per second (R-ACCOUNTS)."""
    return f"mediaops.platform.{platform}"


async def append_events(events: Sequence[DomainEvent], version: int, metadata: EventMetadata) -> int:
    """Append to this workflow's stream, expecting `version`; returns the stream's new version."""
    await workflow.execute_activity(
        "eventstore.append",
        AppendRequest(
            stream_id=workflow.info().workflow_id,
            expected_version=version,
            first_sequence=version,
            events=[
                EventDraft(type=e.type, data=e.payload(), schema_version=e.SCHEMA_VERSION) for e in events
            ],
            metadata=metadata,
        ),
        result_type=Appended,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
    )
    return version + len(events)


@contextmanager
def refusals() -> Iterator[None]:
    """A rule's refusal fails the update with the rule id (anything else would fail the workflow task)."""
    try:
        yield
    except DomainError as exc:
        raise ApplicationError(str(exc), type=f"Refused:{exc.rule}", non_retryable=True) from None
