"""Periods in Asia/Shanghai, the cadence decider's alert and close, and figures period over period."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import cadence as c
from domain import meetings as m
from domain.metrics import change, fell_by_more_than
from domain.periods import Period, containing, parse
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId

BEIJING = ZoneInfo("Asia/Shanghai")
POLICY = Policy()


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


# --- periods ---------------------------------------------------------------------------------


def test_a_post_at_23_59_59_sunday_beijing_is_in_that_week_and_00_00_monday_in_the_next() -> None:
    sunday_late = beijing(2026, 11, 29, 23, 59, 59)  # Sunday of ISO week 48; 15:59:59 UTC
    monday = beijing(2026, 11, 30, 0, 0, 0)  # Monday of week 49; still Sunday 16:00 in UTC
    assert containing("week", sunday_late, BEIJING).key == "2026-W48"
    assert containing("week", monday, BEIJING).key == "2026-W49"
    assert containing("week", monday.astimezone(UTC), BEIJING).key == "2026-W49"
    week = parse("2026-W48")
    assert week.holds(sunday_late, BEIJING)
    assert not week.holds(monday, BEIJING)
    assert week.start(BEIJING) == datetime(2026, 11, 22, 16, tzinfo=UTC)
    assert week.end(BEIJING) == datetime(2026, 11, 29, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "first", "last", "before"),
    [
        ("2026-11-30", date(2026, 11, 30), date(2026, 11, 30), "2026-11-29"),
        ("2026-W53", date(2026, 12, 28), date(2027, 1, 3), "2026-W52"),
        ("2026-W01", date(2025, 12, 29), date(2026, 1, 4), "2025-W52"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), "2026-01"),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31), "2025-12"),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "2025-Q4"),
    ],
)
def test_period_keys_bounds_and_the_period_before(key: str, first: date, last: date, before: str) -> None:
    period = parse(key)
    assert (period.first, period.last, period.key, period.previous().key) == (first, last, key, before)
    assert period.previous().following() == period


@pytest.mark.parametrize("bad", ["2026-W54", "2026-13", "26-11", "2026-11-31", "2026-Q5", "week 48"])
def test_a_period_key_that_is_not_one_is_a_value_error_naming_the_forms(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO week 2026-W48"):
        parse(bad)


def test_at_risk_is_20_00_and_the_close_24_00_of_the_periods_last_local_day() -> None:
    week = parse("2026-W48")
    assert c.at_risk_at(week, POLICY) == beijing(2026, 11, 29, 20)  # Sunday 20:00 Beijing = 12:00 UTC
    assert c.closes_at(week, POLICY) == beijing(2026, 11, 30, 0)
    day = parse("2026-12-02")
    assert c.at_risk_at(day, POLICY) == datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert c.closes_at(day, POLICY) == datetime(2026, 12, 2, 16, tzinfo=UTC)
    month = parse("2026-02")
    assert c.at_risk_at(month, POLICY) == beijing(2026, 2, 28, 20)


# --- the cadence decider ---------------------------------------------------------------------

WEBSITE = next(s for s in c.subjects(POLICY) if s.key == "website")


def post(article: str, at: datetime, platform: Platform = Platform.WEBSITE, **kw: str) -> c.Post:
    return c.Post(article_id=article, platform=platform, at=at, **kw)


def run(subject: c.Subject, first: date, *commands: object) -> tuple[c.CadencePeriod, list[object]]:
    state, events = c.CADENCE.initial(), []
    for command in (
        c.Open(subject=subject, first_day=first, owner="wang.fang", at=beijing(2026, 11, 23)),
        *commands,
    ):
        for event in c.CADENCE.decide(command, state, POLICY):  # type: ignore[arg-type]
            state = c.CADENCE.evolve(state, event)
            events.append(event)
    return state, events


def test_the_subjects_follow_the_policy_and_the_declared_columns() -> None:
    doc2 = Policy.model_validate({"R-CADENCE-WEB": {"min_per_week": 1}})
    column = c.Column(id="expert-talk", name="专家说", platform=Platform.WECHAT)
    found = {s.key: s for s in c.subjects(doc2, [column])}
    assert found["website"].target == 1
    assert found["website"].kind == "week"
    assert found["wechat"].rule is RuleId.CADENCE_DAILY
    assert found["wechat"].kind == "day"
    assert found["miniprogram:recruitment"].rule is RuleId.CADENCE_MP
    assert found["column:expert-talk"].kind == "month"
    assert found["column:expert-talk"].rule is RuleId.FIXED_MONTHLY
    assert WEBSITE.target == 3


def test_a_week_with_two_website_posts_is_at_risk_on_sunday_20_00_and_missed_at_24_00() -> None:
    posts = [post("a1", beijing(2026, 11, 24, 10)), post("a2", beijing(2026, 11, 27, 10))]
    state, events = run(
        WEBSITE,
        date(2026, 11, 23),
        c.Count(posts=posts, at=beijing(2026, 11, 29, 20)),
        c.Tick(owner="wang.fang", at=beijing(2026, 11, 29, 19, 59)),  # not yet
        c.Tick(owner="wang.fang", at=beijing(2026, 11, 29, 20)),
        c.Tick(owner="wang.fang", at=beijing(2026, 11, 30, 0)),
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["PeriodOpened", "PostsCounted", "PeriodAtRisk", "PeriodClosed"]
    closed = events[-1]
    assert isinstance(closed, c.PeriodClosed)
    assert (closed.verdict, closed.count, closed.target, closed.owner) == ("missed", 2, 3, "wang.fang")
    assert c.next_due(state) is None


def test_posts_outside_the_period_on_another_platform_or_counted_twice_do_not_count() -> None:
    posts = [
        post("a1", beijing(2026, 11, 29, 23, 59, 59)),  # last second of the week: counts
        post("a1", beijing(2026, 11, 28, 9)),  # the same article again
        post("a2", beijing(2026, 11, 30, 0)),  # the next week
        post("a3", beijing(2026, 11, 24), Platform.WECHAT),
    ]
    state, _ = run(WEBSITE, date(2026, 11, 23), c.Count(posts=posts, at=beijing(2026, 11, 30)))
    assert list(state.posts) == ["a1"]


def test_a_day_with_a_wechat_post_is_met_and_never_at_risk() -> None:
    wechat = next(s for s in c.subjects(POLICY) if s.key == "wechat")
    day = date(2026, 12, 2)
    state, events = run(
        wechat,
        day,
        c.Count(posts=[post("w1", beijing(2026, 12, 2, 9), Platform.WECHAT)], at=beijing(2026, 12, 2, 9)),
        c.Tick(owner=None, at=beijing(2026, 12, 2, 20)),
        c.Tick(owner=None, at=beijing(2026, 12, 3, 0)),
    )
    assert [type(e).__name__ for e in events] == ["PeriodOpened", "PostsCounted", "PeriodClosed"]
    assert state.verdict == "met"


def test_mini_program_sections_and_fixed_columns_count_their_own_posts() -> None:
    recruitment = next(s for s in c.subjects(POLICY) if s.key == "miniprogram:recruitment")
    posts = [
        post("m1", beijing(2026, 12, 2, 9), Platform.MINIPROGRAM, category="recruitment"),
        post("m2", beijing(2026, 12, 2, 9), Platform.MINIPROGRAM, category="news"),
    ]
    state, _ = run(recruitment, date(2026, 12, 2), c.Count(posts=posts, at=beijing(2026, 12, 2, 10)))
    assert list(state.posts) == ["m1"]
    column = c.subjects(POLICY, [c.Column(id="expert-talk", name="专家说", platform=Platform.WECHAT)])[-1]
    posts = [
        post("x1", beijing(2026, 12, 9), Platform.WECHAT, column="expert-talk"),
        post("x2", beijing(2026, 12, 9), Platform.WECHAT),
    ]
    state, _ = run(column, date(2026, 12, 1), c.Count(posts=posts, at=beijing(2026, 12, 10)))
    assert list(state.posts) == ["x1"]


def test_a_day_off_under_working_days_owes_nothing() -> None:
    wechat = next(s for s in c.subjects(POLICY) if s.key == "wechat")
    state, _ = run(wechat, date(2026, 12, 6))  # opened owed, for contrast
    assert state.verdict is None
    closed = c.CADENCE.decide(
        c.Open(subject=wechat, first_day=date(2026, 12, 6), owner=None, owed=False, at=beijing(2026, 12, 6)),
        c.CADENCE.initial(),
        POLICY,
    )
    assert [e.type for e in closed] == ["cadence.opened", "cadence.not_owed"]


# --- figures, period over period -------------------------------------------------------------


def test_percentage_change_and_a_zero_or_missing_base() -> None:
    assert change(120, 100).pct == 20.0
    assert change(70, 100).pct == -30.0
    assert fell_by_more_than(change(70, 100), 20.0)
    assert not fell_by_more_than(change(85, 100), 20.0)
    zero = change(5, 0)
    assert (zero.delta, zero.pct, zero.note) == (5, None, "zero_base")
    assert not fell_by_more_than(change(0, 0), 20.0)
    assert change(None, 10).note == "missing"
    assert change(None, 10).pct is None
    assert change(10, None).note == "no_base"


def test_a_partial_week_is_compared_with_the_same_days_of_the_week_before() -> None:
    week = parse("2026-W49")  # Monday 30 November to Sunday 6 December
    wednesday = beijing(2026, 12, 2, 16, 50)
    days = m.figure_days(week, wednesday, BEIJING)
    assert days == (date(2026, 11, 30), date(2026, 12, 1))
    assert m.previous_days(week, days) == (date(2026, 11, 23), date(2026, 11, 24))
    assert m.figure_days(week, beijing(2026, 11, 30, 10), BEIJING) is None  # the first day: none over
    assert m.figure_days(week, beijing(2026, 12, 9), BEIJING) == (week.first, week.last)


def test_the_meeting_that_reports_a_period_sits_after_it() -> None:
    assert m.meeting_at("weekly", parse("2026-W48"), POLICY) == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    assert m.meeting_at("monthly", parse("2026-11"), POLICY) == beijing(2026, 12, 1, 14, 30)
    assert Period("week", date(2026, 11, 23)).key == "2026-W48"
    assert timedelta(0) < POLICY.weekly.prepare_before < POLICY.weekly.at
