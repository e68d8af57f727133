"""Which failed platform calls are known never to have gone out: only those are `failed`."""

import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError, TimeoutType

from workflows.shell import failure_type, never_sent


def failed_with(cause: BaseException) -> ActivityError:
    error = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="platform.reply",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("cause", "sent"),
    [
        (ApplicationError("quota", type="Platform:45009"), False),  # refused by the platform: released
        (ApplicationError("never reached", type="Platform:network"), False),
        (ApplicationError("pool closed", type="InterfaceError"), True),  # the claim's own database failed
        (ApplicationError("bad answer", type="ValidationError", non_retryable=True), True),
        (TimeoutError("late", type=TimeoutType.HEARTBEAT, last_heartbeat_details=[]), True),  # a dead worker
    ],
)
def test_only_a_classified_platform_failure_proves_nothing_was_sent(cause: BaseException, sent: bool) -> None:
    assert never_sent(failed_with(cause)) is not sent


def test_a_failure_is_named_by_its_type_not_its_text() -> None:
    assert (
        failure_type(failed_with(ApplicationError("token=abc leaked", type="Platform:40001")))
        == "Platform:40001"
    )
    assert failure_type(
        failed_with(TimeoutError("x", type=TimeoutType.HEARTBEAT, last_heartbeat_details=[]))
    ) == ("TimeoutError")
