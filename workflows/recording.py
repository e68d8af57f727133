"""What every process workflow's activity calls share: recording events, bounds, where platform calls go.

The shell (workflows/shell.py) decides, appends through `append_events` and evolves; the append is
the same activity call for every process.
"""

from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.eventstore import Appended, AppendRequest, EventDraft
    from domain.events import DomainEvent, EventMetadata
    from domain.platforms import Platform

ACTIVITY_TIMEOUT = timedelta(seconds=60)
"""One attempt of any activity (a technical bound, not a rule's duration)."""
IDENTITY_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))
"""Asking the user directory: a person waits on the answer, so a lasting outage is a refusal, not a hang."""
PLATFORM_RETRY = RetryPolicy(maximum_interval=timedelta(hours=1))
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=4)
"""Delivering a notification: a few tries; the process never waits longer on a chat webhook."""
STATUS_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=5)
"""Asking a platform about a post: a few tries, then a person is asked instead (M5)."""
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
