"""The write-up decider (R-NEWS-3WD, P-NEWS-REMIND, P-EVENT-DAY-END): due times on China's calendar,
the reminder, met and breached, late write-ups, a corrected end."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import announcements as an
from domain import writeups as w
from domain.calendar import WorkingCalendar
from domain.commands import Actor
from domain.errors import DomainError, Invalid, PermissionDenied
from domain.platforms import ALL_PLATFORMS, Platform
from domain.policy import Policy
from domain.roles import Role
from domain.rules import RuleId

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
REPORTER = Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
AUDITOR = Actor(id="audit", roles=frozenset({Role.AUDITOR}))
TWO = (Platform.WEBSITE, Platform.WECHAT)


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def due_times(ends_at: datetime) -> w.SetDue:
    """What the workflow asks the calendar activity for: the 3rd and the 1st working day's end."""
    calendar, end_of_day = WorkingCalendar(), POLICY.event_day_end.at
    n, first = POLICY.news_3wd.within_working_days, POLICY.news_remind.after_working_days
    return w.SetDue(
        ends_at=ends_at,
        due=calendar.working_days_deadline(ends_at, n, end_of_day, SHANGHAI),
        remind_at=calendar.working_days_deadline(ends_at, first, end_of_day, SHANGHAI),
    )


def run(state: w.WriteUp, command: object) -> tuple[w.WriteUp, list[object]]:
    events = w.decide_writeup(command, state, POLICY)  # type: ignore[arg-type]
    for event in events:
        state = w.evolve_writeup(state, event)
    return state, list(events)


def reported(ends_at: datetime, platforms: tuple[Platform, ...] | None = TWO) -> w.WriteUp:
    command = w.Report(actor=REPORTER, writeup_id="writeup-e1", name="秋季新品发布会", ends_at=ends_at,
                       platforms=platforms, at=ends_at)  # fmt: skip
    state, _ = run(w.initial_writeup(), command)
    state, _ = run(state, due_times(ends_at))
    return state


def published(state: w.WriteUp, platform: Platform, at: datetime) -> w.WriteUp:
    state, _ = run(state, an.Published(article_id="a1", platform=platform, published_at=at))
    return state


def test_an_event_ending_on_a_friday_before_a_make_up_saturday_counts_the_saturday() -> None:
    """Friday 8 May 2026; Saturday 9 May is a working day (调休): due Tuesday 12 May 24:00."""
    state = reported(beijing(2026, 5, 8, 17, 0))
    assert state.due == beijing(2026, 5, 13, 0, 0)
    assert state.remind_at == beijing(2026, 5, 10, 0, 0)  # the end of the make-up Saturday
    assert not state.due_flagged


def test_an_event_ending_the_day_before_national_day_is_due_after_the_holidays() -> None:
    """Wednesday 30 September 2026: 8, 9 and 10 (a make-up Saturday) October are the working days."""
    state = reported(beijing(2026, 9, 30, 20, 0))
    assert state.due == beijing(2026, 10, 11, 0, 0)
    assert state.remind_at == beijing(2026, 10, 9, 0, 0)


def test_a_report_takes_the_policys_platforms_and_the_reporter_as_owner() -> None:
    state = reported(beijing(2026, 9, 24, 18, 0), platforms=None)
    assert tuple(state.platforms) == POLICY.news_3wd.platforms == ALL_PLATFORMS
    assert (state.owner, state.status) == (REPORTER.id, "open")


def test_only_staff_and_managers_report_and_an_event_is_reported_once() -> None:
    command = w.Report(actor=AUDITOR, writeup_id="w", name="发布会", ends_at=beijing(2026, 9, 24),
                       at=beijing(2026, 9, 24))  # fmt: skip
    with pytest.raises(PermissionDenied) as refused:
        w.decide_writeup(command, w.initial_writeup(), POLICY)
    assert (refused.value.permission, refused.value.rule) == ("coverage.report", RuleId.NEWS_3WD)
    with pytest.raises(DomainError, match="reported already"):
        w.decide_writeup(
            command.model_copy(update={"actor": REPORTER}), reported(beijing(2026, 9, 24)), POLICY
        )


def test_an_end_years_ahead_is_refused_naming_the_field() -> None:
    now = beijing(2026, 9, 24)
    command = w.Report(
        actor=REPORTER, writeup_id="w", name="发布会", ends_at=now + timedelta(days=400), at=now
    )
    with pytest.raises(Invalid) as refused:
        w.decide_writeup(command, w.initial_writeup(), POLICY)
    assert (refused.value.field, refused.value.rule) == ("ends_at", RuleId.NEWS_3WD)


def test_the_owner_is_reminded_at_the_end_of_the_first_working_day_with_what_is_missing() -> None:
    state = reported(beijing(2026, 9, 24, 18, 0))  # Thursday; Friday 25 is the Mid-Autumn Festival
    assert w.next_due(state) == state.remind_at == beijing(2026, 9, 29, 0, 0)  # Monday 28's end
    state, _ = run(state, an.Progress(article_id="a1", platforms=TWO, stage="waiting_on_manager",
                                      at=beijing(2026, 9, 28, 10, 0)))  # fmt: skip
    state, events = run(state, w.Tick(at=beijing(2026, 9, 29, 0, 0)))
    [reminded] = events
    assert isinstance(reminded, w.WriteUpReminded)
    assert (reminded.to, reminded.missing) == (REPORTER.id, dict.fromkeys(TWO, "waiting_on_manager"))
    assert w.next_due(state) == state.due


def test_met_when_published_everywhere_by_the_due_time() -> None:
    state = reported(beijing(2026, 9, 24, 18, 0))
    state = published(state, Platform.WEBSITE, beijing(2026, 9, 28, 11, 0))
    state = published(state, Platform.WECHAT, beijing(2026, 9, 30, 23, 59))
    assert state.status == "published"
    assert w.next_due(state) == state.due  # nothing missing: no reminder
    assert state.due is not None
    state, events = run(state, w.Tick(at=state.due))
    assert [type(e) for e in events] == [w.WriteUpMet]
    assert (state.status, w.next_due(state)) == ("met", None)


def test_breached_naming_what_is_missing_escalated_and_a_late_write_up_recorded_as_late() -> None:
    state = published(reported(beijing(2026, 9, 24, 18, 0)), Platform.WEBSITE, beijing(2026, 9, 28, 11, 0))
    assert state.due is not None
    state, events = run(state, w.Tick(at=state.due))
    [breached] = events
    assert isinstance(breached, w.WriteUpBreached)
    assert (breached.missing, breached.escalated_to) == ((Platform.WECHAT,), Role.OPERATIONS_MANAGER)
    _, again = run(state, due_times(beijing(2026, 9, 24, 18, 0)))
    assert again == []  # the calendar's answer, delivered twice, is taken once
    state = published(state, Platform.WECHAT, state.due + timedelta(hours=10))
    assert (state.platforms[Platform.WECHAT].state, state.platforms[Platform.WECHAT].late_by_s) == (
        "late",
        36000,
    )
    assert state.status == "breached"


def test_a_corrected_end_asks_for_the_due_time_again_and_judges_what_is_out_against_it() -> None:
    state = published(reported(beijing(2026, 9, 24, 18, 0)), Platform.WEBSITE, beijing(2026, 9, 29, 12, 0))
    assert state.platforms[Platform.WEBSITE].state == "announced"
    earlier = beijing(2026, 9, 22, 18, 0)
    state, events = run(state, w.CorrectEnd(actor=REPORTER, ends_at=earlier, at=beijing(2026, 9, 29, 13, 0)))
    assert [type(e) for e in events] == [w.EndCorrected]
    assert (state.due, w.next_due(state)) == (None, None)  # until the calendar answers for the new end
    _, stale = run(state, due_times(beijing(2026, 9, 24, 18, 0)))
    assert stale == []  # an answer for the end before the correction is not taken
    state, _ = run(state, due_times(earlier))
    assert state.due == beijing(2026, 9, 29, 0, 0)  # 23, 24 and 28 September
    assert (state.platforms[Platform.WEBSITE].state, state.platforms[Platform.WEBSITE].late_by_s) == (
        "late",
        12 * 3600,
    )


def test_a_guessed_calendar_is_flagged_on_the_due_time() -> None:
    ends = beijing(2031, 3, 6, 18, 0)
    command = w.Report(actor=REPORTER, writeup_id="w", name="发布会", ends_at=ends, platforms=TWO, at=ends)
    state, _ = run(w.initial_writeup(), command)
    guess = w.SetDue(
        ends_at=ends, due=beijing(2031, 3, 12), remind_at=beijing(2031, 3, 8), flagged_years=(2031,)
    )
    state, _ = run(state, guess)
    assert state.due_flagged


def test_a_publication_before_the_due_time_is_known_is_judged_once_it_is() -> None:
    ends = beijing(2026, 9, 24, 18, 0)
    command = w.Report(actor=REPORTER, writeup_id="w", name="发布会", ends_at=ends, platforms=TWO, at=ends)
    state, _ = run(w.initial_writeup(), command)
    state, events = run(state, an.Published(article_id="a1", platform=Platform.WEBSITE,
                                            published_at=beijing(2026, 10, 1, 2, 0)))  # fmt: skip
    [out] = events
    assert isinstance(out, w.WriteUpPublished)
    assert out.late_by_s is None  # not known yet
    state, _ = run(state, due_times(ends))
    assert (state.platforms[Platform.WEBSITE].state, state.platforms[Platform.WEBSITE].late_by_s) == (
        "late",
        7200,
    )


def test_a_breach_is_amended_when_a_publication_in_time_is_reported_after_the_due_time() -> None:
    state = published(reported(beijing(2026, 9, 24, 18, 0)), Platform.WEBSITE, beijing(2026, 9, 28, 11, 0))
    assert state.due is not None
    state, _ = run(state, w.Tick(at=state.due))
    state, events = run(state, an.Published(article_id="a1", platform=Platform.WECHAT,
                                            published_at=state.due - timedelta(minutes=5)))  # fmt: skip
    assert [type(e) for e in events] == [w.WriteUpPublished, w.WriteUpMet]
    assert state.status == "met"
