"""The schedules the system keeps in Temporal: today, reading comments that platforms do not push."""

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from activities.platform_calls import COMMENT_PLATFORMS
from activities.platforms.accounts import Accounts
from domain.policy import Policy
from workflows.contracts import CommentPollRequest

log = structlog.get_logger(__name__)


async def ensure_comment_polls(
    client: Client, task_queue: str, policy: Policy, accounts: Accounts
) -> list[str]:
    """One schedule per account on a platform whose comments must be read (R-INQUIRY-12H)."""
    created = []
    for account in accounts.all():
        if account.platform not in COMMENT_PLATFORMS:
            continue
        schedule_id = f"poll-comments-{account.platform}-{account.name}"
        request = CommentPollRequest(platform=account.platform, account=account.name, policy=policy)
        schedule = Schedule(
            action=ScheduleActionStartWorkflow("CommentPoll", request, id=schedule_id, task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=policy.inquiry_12h.comment_poll_every)]),
        )
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            continue
        created.append(schedule_id)
    if created:
        log.info("comment polling scheduled", schedules=created)
    return created
