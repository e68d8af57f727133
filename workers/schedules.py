"""The schedules the system keeps in Temporal: reading comments that platforms do not push, the
meetings' reports, and the day's cadence run."""

import contextlib
import uuid
from dataclasses import replace
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.platform_calls import COMMENT_PLATFORMS
from activities.platforms.accounts import Accounts
from domain.department import REGISTER_ID
from domain.meetings import WEEKDAYS, MeetingKind
from domain.policy import Policy
from workflows.contracts import CadenceDayStart, CommentPollRequest, DepartmentStart, ReportStart

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


MEETING_SCHEDULES: dict[MeetingKind, str] = {
    "weekly": "report-weekly",
    "monthly": "report-monthly",
    "quarterly": "report-quarterly",
}
CADENCE_SCHEDULE = "cadence-day"
OPENS_AFTER_MIDNIGHT = timedelta(minutes=1)
"""The day's cadence run fires a minute into the day (local), so it is surely that day's."""


def meeting_spec(kind: MeetingKind, policy: Policy) -> ScheduleSpec:
    """When a meeting's report is made: the policy's day and time (Asia/Shanghai) less `prepare_before`.

    Temporal's calendar counts weekdays from Sunday = 0; a quarterly meeting is in January, April,
    July and October."""
    rule = (
        policy.weekly if kind == "weekly" else policy.monthly if kind == "monthly" else policy.site_quarterly
    )
    fires = rule.at - rule.prepare_before
    hour, minute = int(fires.total_seconds()) // 3600, int(fires.total_seconds()) % 3600 // 60
    calendar = ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
    if kind == "weekly":
        sunday_first = (WEEKDAYS.index(policy.weekly.weekday) + 1) % 7
        calendar = replace(calendar, day_of_week=[ScheduleRange(sunday_first)])
    else:
        day = policy.monthly.day_of_month if kind == "monthly" else policy.site_quarterly.day_of_month
        calendar = replace(calendar, day_of_month=[ScheduleRange(day)])
        if kind == "quarterly":
            calendar = replace(calendar, month=[ScheduleRange(1, 10, 3)])
    return ScheduleSpec(calendars=[calendar], time_zone_name=policy.timezone)


def cadence_spec(policy: Policy) -> ScheduleSpec:
    minutes = int(OPENS_AFTER_MIDNIGHT.total_seconds()) // 60
    calendar = ScheduleCalendarSpec(hour=[ScheduleRange(0)], minute=[ScheduleRange(minutes)])
    return ScheduleSpec(calendars=[calendar], time_zone_name=policy.timezone)


async def _keep(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring an existing one to the policy's times (a policy change moves it)."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(updated)


async def ensure_rulebook_schedules(client: Client, task_queue: str, policy: Policy) -> list[str]:
    """The meetings' reports (R-WEEKLY, R-MONTHLY, R-SITE-QUARTERLY when enabled) and the day's
    cadence run (P-CADENCE-CHECK), kept in step with the policy; a disabled option's is deleted."""
    kept = []
    for kind, schedule_id in MEETING_SCHEDULES.items():
        if kind == "quarterly" and not policy.site_quarterly.enabled:
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()
            continue
        action = ScheduleActionStartWorkflow(
            "MeetingReport", ReportStart(kind=kind), id=schedule_id, task_queue=task_queue
        )
        await _keep(client, schedule_id, Schedule(action=action, spec=meeting_spec(kind, policy)))
        kept.append(schedule_id)
    action = ScheduleActionStartWorkflow(
        "CadenceDay", CadenceDayStart(), id=CADENCE_SCHEDULE, task_queue=task_queue
    )
    await _keep(client, CADENCE_SCHEDULE, Schedule(action=action, spec=cadence_spec(policy)))
    kept.append(CADENCE_SCHEDULE)
    log.info("rulebook schedules kept", schedules=kept)
    return kept


async def open_today(client: Client, task_queue: str) -> None:
    """Start the register and today's cadence run now (a stack started mid-day opens today's periods)."""
    await client.start_workflow(
        "Department",
        DepartmentStart(),
        id=REGISTER_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await client.start_workflow(
        "CadenceDay",
        CadenceDayStart(),
        id=f"{CADENCE_SCHEDULE}-start-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
