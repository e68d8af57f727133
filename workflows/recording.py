"""What every process workflow's activity calls share: recording events, bounds, where platform calls go.

The shell (workflows/shell.py) decides, appends `append_request` and evolves; the append is the
same activity call for every process.
"""

from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.eventstore import AppendRequest, EventDraft
    from domain.events import DomainEvent, EventMetadata
    from domain.platforms import Platform

ACTIVITY_TIMEOUT = timedelta(seconds=60)
"""One attempt of any activity (a technical bound, not a rule's duration)."""
DATA_ERRORS = (
    "ValidationError",
    "EventRefused",
    "WrongExpectedVersion",
    "IdempotencyViolation",
    "CalendarYearUnknown",
)
"""Failures no retry can mend (the data itself is refused): tried once, then the process says so."""
STEP_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30), maximum_attempts=10, non_retryable_error_types=DATA_ERRORS
)
"""A step the process cannot go on without (recording, the checks, the calendar): a few minutes of
attempts, then the shell flags the process and tries again later (workflows/shell.py `persist`)."""
AT_ONCE = RetryPolicy(maximum_attempts=1)
"""One attempt, where a process has a slower way to go on if it fails (an inquiry's clock is then
started after its message is recorded, under `STEP_RETRY`)."""
ATTENTION_RETRY_EVERY = timedelta(minutes=10)
"""How soon a flagged step is first tried again; each later try waits twice as long, up to
`ATTENTION_RETRY_AT_MOST` (technical bounds on an outage, not a rule's durations)."""
ATTENTION_RETRY_AT_MOST = timedelta(hours=6)
IDENTITY_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))
"""Asking the user directory: a person waits on the answer, so a lasting outage is a refusal, not a hang."""
PLATFORM_RETRY = RetryPolicy(
    maximum_interval=timedelta(hours=1), maximum_attempts=30, non_retryable_error_types=DATA_ERRORS
)
"""Publishing: a platform that is down or over its quota is tried for about a day, then the
publication fails for a person to follow up. Publish is claimed, so a retry never posts twice."""
REPLY_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30), maximum_attempts=5, non_retryable_error_types=DATA_ERRORS
)
"""Replying: a person is waiting on the answer, so a platform that cannot be reached is a failed
reply within minutes (never sent: the claim was released), which they may send again."""
HEARTBEAT_TIMEOUT = timedelta(seconds=20)
"""A platform call's worker that stops heartbeating this long is taken for dead: its attempt ends
then, not after the whole start-to-close bound, and the next attempt finds the call in doubt."""
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=4)
"""Delivering a notification: a few tries; the process never waits longer on a chat webhook."""
STATUS_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=5)
"""Asking a platform about a post: a few tries, then a person is asked instead (M5)."""
READ_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)
"""Reading from a platform or the store for a scheduled run: the next run reads again."""


LOCAL_ACTIVITIES = frozenset(
    {
        "policy.in_force",
        "identity.authenticate",
        "calendar.inquiry_deadline",
        "calendar.working_days_deadline",
        "calendar.working_hours_after",
    }
)
"""Short reads of the worker's own state (its policy, the calendar, the user directory), run as
local activities where a process has `LOCAL_STEPS`: each answer is recorded as a marker in the
same workflow task, with no round trip through a task queue.

A local activity runs before its workflow task is committed, and again if that task is lost, when
the workflow's time (and what it has heard) may have moved on. So only calls whose effect cannot
depend on that are local. The identity check claims a command's nonce for the run, not for its
own sequence number (which a retried task may hand out anew); the run itself refuses a nonce it
took (workflows/shell.py). Recording stays an activity, since an event's body holds the
workflow's time and its id is claimed by its sequence (a second body would be refused as an
`IdempotencyViolation`); the content checks (they fetch images) and the platform calls do too."""


def platform_queue(platform: Platform) -> str:
    """Each platform's own task queue, throttled to the policy's calls per second (R-ACCOUNTS)."""
    return f"mediaops.platform.{platform}"


def append_request(
    batches: Sequence[tuple[Sequence[DomainEvent], EventMetadata]], version: int
) -> AppendRequest:
    """One append to this workflow's stream, expecting `version`, of each batch's events with its
    metadata (the first batch's is the request's; a later one's rides on its events)."""
    metadata = batches[0][1]
    return AppendRequest(
        stream_id=workflow.info().workflow_id,
        expected_version=version,
        first_sequence=version,
        events=[
            EventDraft(
                type=e.type,
                data=e.payload(),
                schema_version=e.SCHEMA_VERSION,
                metadata=None if own == metadata else own,
            )
            for events, own in batches
            for e in events
        ],
        metadata=metadata,
    )
