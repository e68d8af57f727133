"""The promotion decider (R-PROMO-3D, P-PROMO-REMIND): planning, reminders, the deadline, late
announcements, rescheduling and cancelling."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import announcements as an
from domain import promotions as pr
from domain.commands import Actor
from domain.errors import DomainError, Invalid, PermissionDenied
from domain.platforms import ALL_PLATFORMS, Platform
from domain.policy import Policy
from domain.roles import Role
from domain.rules import RuleId

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
START = NOW + timedelta(days=10)
PLANNER = Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
WRITER = Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
POLICY = Policy()
TWO = (Platform.WEBSITE, Platform.WECHAT)


def run(state: pr.Promotion, command: object) -> tuple[pr.Promotion, list[object]]:
    events = pr.decide_promotion(command, state, POLICY)  # type: ignore[arg-type]
    for event in events:
        state = pr.evolve_promotion(state, event)
    return state, list(events)


def plan(start: datetime = START, *, major: bool = True, platforms: tuple[Platform, ...] | None = TWO,
         ack: bool = False, at: datetime = NOW) -> pr.Promotion:  # fmt: skip
    command = pr.Plan(actor=PLANNER, promotion_id="promotion-p1", name="双十二大促", starts_at=start,
                      ends_at=start + timedelta(days=3), major=major, platforms=platforms,
                      acknowledge_late=ack, at=at)  # fmt: skip
    state, _ = run(pr.initial_promotion(), command)
    return state


def published(state: pr.Promotion, platform: Platform, at: datetime) -> pr.Promotion:
    state, _ = run(state, an.Published(article_id="a1", platform=platform, published_at=at))
    return state


def tick(state: pr.Promotion, at: datetime) -> tuple[pr.Promotion, list[object]]:
    return run(state, pr.Tick(at=at))


def test_a_plan_takes_the_policys_platforms_lead_and_the_planner_as_owner() -> None:
    state = plan(platforms=None)
    assert tuple(state.platforms) == POLICY.promo_3d.platforms == ALL_PLATFORMS
    assert state.announce_by == START - timedelta(days=3)
    assert (state.owner, state.compliance, state.status) == (PLANNER.id, "on_track", "planned")
    assert all(a.state == "missing" for a in state.platforms.values())


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (START, START, "ends_at"),
        (START, START - timedelta(hours=1), "ends_at"),
        (NOW - timedelta(minutes=1), NOW + timedelta(days=1), "starts_at"),
        (NOW + timedelta(days=400), NOW + timedelta(days=401), "starts_at"),
    ],
)
def test_impossible_dates_are_refused_naming_the_field(start: datetime, end: datetime, field: str) -> None:
    command = pr.Plan(actor=PLANNER, promotion_id="p", name="促销", starts_at=start, ends_at=end,
                      major=True, at=NOW)  # fmt: skip
    with pytest.raises(Invalid) as refused:
        pr.decide_promotion(command, pr.initial_promotion(), POLICY)
    assert (refused.value.field, refused.value.rule) == (field, RuleId.PROMO_3D)


def test_only_the_promotion_specialist_and_the_manager_plan() -> None:
    command = pr.Plan(actor=WRITER, promotion_id="p", name="促销", starts_at=START,
                      ends_at=START + timedelta(days=1), major=True, at=NOW)  # fmt: skip
    with pytest.raises(PermissionDenied) as refused:
        pr.decide_promotion(command, pr.initial_promotion(), POLICY)
    assert (refused.value.permission, refused.value.rule) == ("promotion.plan", RuleId.PROMO_3D)


def test_a_promotion_is_planned_once() -> None:
    command = pr.Plan(actor=PLANNER, promotion_id="p", name="促销", starts_at=START,
                      ends_at=START + timedelta(days=1), major=True, at=NOW)  # fmt: skip
    with pytest.raises(DomainError, match="planned already"):
        pr.decide_promotion(command, plan(), POLICY)


def test_a_major_promotion_too_soon_to_announce_needs_an_acknowledgement_and_says_so() -> None:
    soon = NOW + timedelta(days=2)
    with pytest.raises(Invalid) as refused:
        plan(soon)
    assert (refused.value.field, refused.value.rule) == ("acknowledge_late", RuleId.PROMO_3D)
    assert "cannot_meet" in refused.value.message
    state = plan(soon, ack=True)
    assert (state.cannot_meet, state.compliance) == (True, "cannot_meet")
    assert plan(soon, major=False).compliance == "not_required"  # R-PROMO-3D does not judge it


def test_reminders_7_and_5_days_before_name_each_missing_platform_and_where_it_is_stuck() -> None:
    state = plan()
    assert pr.next_due(state, POLICY) == START - timedelta(days=7)
    state, _ = run(state, an.Progress(article_id="a1", platforms=TWO, stage="waiting_on_manager", at=NOW))
    state, events = tick(state, START - timedelta(days=7))
    [reminded] = events
    assert isinstance(reminded, pr.PromotionReminded)
    assert reminded.before_start_s == 7 * 86400
    assert reminded.missing == {Platform.WEBSITE: "waiting_on_manager", Platform.WECHAT: "waiting_on_manager"}
    assert (reminded.owner, reminded.to) == (PLANNER.id, (Role.PROMOTION_SPECIALIST, Role.OPERATIONS_MANAGER))
    assert pr.next_due(state, POLICY) == START - timedelta(days=5)
    state = published(state, Platform.WEBSITE, START - timedelta(days=6))
    state, _ = run(
        state, an.Progress(article_id="a1", platforms=(Platform.WECHAT,), stage="publishing", at=NOW)
    )
    state, events = tick(state, START - timedelta(days=5))
    [reminded] = events
    assert isinstance(reminded, pr.PromotionReminded)
    assert reminded.missing == {Platform.WECHAT: "publishing"}
    assert pr.next_due(state, POLICY) == START - timedelta(days=3)


def test_a_platform_without_an_article_is_named_as_such() -> None:
    _, events = tick(plan(), START - timedelta(days=7))
    [reminded] = events
    assert isinstance(reminded, pr.PromotionReminded)
    assert set(reminded.missing.values()) == {"no_article"}


def test_reminders_missed_while_the_worker_was_down_are_one_reminder_not_two() -> None:
    state, events = tick(plan(), START - timedelta(days=4))
    assert [e.before_start_s for e in events if isinstance(e, pr.PromotionReminded)] == [5 * 86400]
    state, events = tick(state, START - timedelta(days=4))
    assert events == []
    assert pr.next_due(state, POLICY) == START - timedelta(days=3)


def test_met_when_every_platform_published_in_time() -> None:
    state = published(plan(), Platform.WEBSITE, START - timedelta(days=4))
    state = published(state, Platform.WECHAT, START - timedelta(days=3))  # exactly 3 days ahead counts
    assert state.status == "announced"
    assert pr.next_due(state, POLICY) == START - timedelta(days=3)  # no reminder: nothing is missing
    state, events = tick(state, START - timedelta(days=3))
    assert [type(e) for e in events] == [pr.AnnouncementMet]
    assert (state.status, state.compliance, pr.next_due(state, POLICY)) == ("met", "met", None)


def test_breached_naming_the_missing_platform_and_escalated() -> None:
    state = published(plan(), Platform.WEBSITE, START - timedelta(days=5))
    state, events = tick(state, START - timedelta(days=3))
    [breached] = events
    assert isinstance(breached, pr.AnnouncementBreached)
    assert (breached.missing, breached.escalated_to) == ((Platform.WECHAT,), Role.OPERATIONS_MANAGER)
    assert (state.status, pr.next_due(state, POLICY)) == ("breached", None)


def test_a_late_announcement_is_recorded_as_late_with_how_late() -> None:
    state, _ = tick(plan(), START - timedelta(days=3))
    state, events = run(state, an.Published(article_id="a2", platform=Platform.WECHAT,
                                            published_at=START - timedelta(days=2)))  # fmt: skip
    [announced] = events
    assert isinstance(announced, pr.Announced)
    assert announced.late_by_s == 86400
    assert state.platforms[Platform.WECHAT].state == "late"
    assert state.status == "breached"  # the rule was broken; coming late does not mend it


def test_the_first_publication_counts_and_other_platforms_are_not_required() -> None:
    state = published(plan(), Platform.WECHAT, START - timedelta(days=5))
    _, again = run(state, an.Published(article_id="a9", platform=Platform.WECHAT, published_at=START))
    _, elsewhere = run(state, an.Published(article_id="a1", platform=Platform.WEIBO, published_at=NOW))
    assert (again, elsewhere) == ([], [])
    _, same = run(
        state, an.Progress(article_id="a1", platforms=(Platform.WECHAT,), stage="publishing", at=NOW)
    )
    assert same == []  # out already: its progress says nothing new


def test_rescheduled_earlier_an_announcement_4_days_before_the_old_start_is_late_for_the_new() -> None:
    state = published(plan(), Platform.WEBSITE, START - timedelta(days=4))
    state = published(state, Platform.WECHAT, START - timedelta(days=4))
    new_start = START - timedelta(days=2)  # the announcements are now 2 days ahead of it
    at = START - timedelta(days=4, hours=-1)  # an hour after they went out: too soon now, acknowledged
    command = pr.Reschedule(actor=PLANNER, starts_at=new_start, ends_at=new_start + timedelta(days=1),
                            acknowledge_late=True, at=at)  # fmt: skip
    state, _ = run(state, command)
    assert state.compliance == "cannot_meet"
    assert state.announce_by == new_start - timedelta(days=3)
    assert {p: (a.state, a.late_by_s) for p, a in state.platforms.items()} == {
        Platform.WEBSITE: ("late", 86400),
        Platform.WECHAT: ("late", 86400),
    }
    state, events = tick(state, new_start - timedelta(days=3))
    assert [type(e) for e in events] == [pr.AnnouncementBreached]


def test_rescheduled_later_the_reminders_and_the_deadline_move_and_a_verdict_is_reopened() -> None:
    state = published(plan(), Platform.WEBSITE, START - timedelta(days=4))
    state, _ = tick(state, START - timedelta(days=3))
    assert state.status == "breached"
    later = START + timedelta(days=10)
    at = START - timedelta(days=2)
    state, _ = run(
        state, pr.Reschedule(actor=PLANNER, starts_at=later, ends_at=later + timedelta(days=1), at=at)
    )
    assert (state.status, state.reminded) == ("planned", [])
    assert state.platforms[Platform.WEBSITE].state == "announced"  # still at least 3 days ahead
    assert pr.next_due(state, POLICY) == later - timedelta(days=7)


def test_rescheduling_keeps_the_rule_on_a_start_too_soon_and_the_dates_checked() -> None:
    state = plan()
    soon = NOW + timedelta(days=1)
    with pytest.raises(Invalid) as refused:
        pr.decide_promotion(pr.Reschedule(actor=PLANNER, starts_at=soon, ends_at=soon + timedelta(days=1),
                                          at=NOW), state, POLICY)  # fmt: skip
    assert refused.value.field == "acknowledge_late"
    with pytest.raises(Invalid) as backwards:
        pr.decide_promotion(pr.Reschedule(actor=PLANNER, starts_at=START, ends_at=START - timedelta(days=1),
                                          at=NOW), state, POLICY)  # fmt: skip
    assert backwards.value.field == "ends_at"
    with pytest.raises(PermissionDenied):
        pr.decide_promotion(pr.Reschedule(actor=WRITER, starts_at=START, ends_at=START + timedelta(days=1),
                                          at=NOW), state, POLICY)  # fmt: skip


def test_cancelled_the_obligation_ends_and_what_is_out_is_listed_for_a_follow_up() -> None:
    state = published(plan(), Platform.WECHAT, START - timedelta(days=5))
    state, events = run(state, pr.Cancel(actor=PLANNER, reason="供应商取消", at=NOW))
    [cancelled] = events
    assert isinstance(cancelled, pr.PromotionCancelled)
    assert cancelled.follow_up == (Platform.WECHAT,)
    assert (state.status, state.compliance, pr.next_due(state, POLICY)) == ("cancelled", "cancelled", None)
    assert tick(state, START)[1] == []
    state, late = run(state, an.Published(article_id="a1", platform=Platform.WEBSITE, published_at=NOW))
    assert [type(e) for e in late] == [pr.Announced]  # what went out after the cancel needs a follow-up too
    assert state.status == "cancelled"
    with pytest.raises(DomainError, match="cancelled"):
        pr.decide_promotion(pr.Cancel(actor=PLANNER, reason="again", at=NOW), state, POLICY)


def test_a_started_promotion_is_not_rescheduled() -> None:
    later = START + timedelta(days=10)
    with pytest.raises(DomainError, match="has started"):
        pr.decide_promotion(pr.Reschedule(actor=PLANNER, starts_at=later, ends_at=later + timedelta(days=1),
                                          at=START + timedelta(hours=1)), plan(), POLICY)  # fmt: skip


def test_a_breach_is_amended_when_a_publication_in_time_is_reported_after_the_deadline() -> None:
    state = published(plan(), Platform.WEBSITE, START - timedelta(days=5))
    state, _ = tick(state, START - timedelta(days=3))
    assert state.status == "breached"
    state, events = run(state, an.Published(article_id="a1", platform=Platform.WECHAT,
                                            published_at=START - timedelta(days=3, hours=1)))  # fmt: skip
    assert [type(e) for e in events] == [pr.Announced, pr.AnnouncementMet]
    assert isinstance(events[1], pr.AnnouncementMet)
    assert events[1].after_breach
    assert (state.status, state.compliance) == ("met", "met")


def test_an_acknowledged_cannot_meet_is_not_reminded_of_the_past_and_stays_so_named() -> None:
    soon = NOW + timedelta(days=2)
    state = plan(soon, ack=True)
    assert pr.next_due(state, POLICY) == soon - timedelta(days=3)  # no reminder from before the plan
    state, events = tick(state, NOW)
    assert [type(e) for e in events] == [pr.AnnouncementBreached]  # recorded and escalated, never hidden
    assert (state.status, state.compliance) == ("breached", "cannot_meet")


def test_a_reminder_never_names_a_platform_already_out() -> None:
    state = published(plan(major=False), Platform.WEBSITE, NOW + timedelta(hours=1))
    at = NOW + timedelta(hours=2)
    soon = NOW + timedelta(days=1)  # not major: no acknowledgement; the website's post is now late
    state, _ = run(
        state, pr.Reschedule(actor=PLANNER, starts_at=soon, ends_at=soon + timedelta(days=1), at=at)
    )
    assert state.platforms[Platform.WEBSITE].state == "late"
    assert pr.next_due(state, POLICY) is None  # both reminder times fell before the reschedule
    state = published(plan(major=False), Platform.WEBSITE, NOW + timedelta(hours=1))
    _, events = tick(state, START - timedelta(days=7))
    [reminded] = events
    assert isinstance(reminded, pr.PromotionReminded)
    assert reminded.missing == {Platform.WECHAT: "no_article"}


def test_a_promotion_that_is_not_major_is_reminded_but_never_judged() -> None:
    state = plan(major=False)
    state, _ = tick(state, START - timedelta(days=7))
    state, _ = tick(state, START - timedelta(days=5))
    assert pr.next_due(state, POLICY) is None
    state, events = tick(state, START)
    assert (events, state.compliance) == ([], "not_required")


@given(
    starts_in=st.integers(min_value=1, max_value=20 * 24),
    published_before=st.lists(st.integers(min_value=0, max_value=20 * 24), max_size=2),
    major=st.booleans(),
    moved_to=st.none() | st.integers(min_value=2, max_value=20 * 24),
    cancelled=st.booleans(),
    down_for=st.integers(min_value=0, max_value=12 * 24),
)
def test_the_clock_always_comes_to_an_end(
    starts_in: int, published_before: list[int], major: bool, moved_to: int | None, cancelled: bool,
    down_for: int,
) -> None:  # fmt: skip
    """Whatever happens (a start too soon, publications before or after the plan, a reschedule, a
    cancel, an outage), ticking at each due time never repeats a time: no spin, and it ends."""
    start = NOW + timedelta(hours=starts_in)
    state = plan(start, major=major, ack=True)
    for platform, hours in zip(TWO, published_before, strict=False):
        state = published(state, platform, start - timedelta(hours=hours))
    if moved_to is not None and start > NOW + timedelta(hours=1):
        new = NOW + timedelta(hours=moved_to)
        state, _ = run(state, pr.Reschedule(actor=PLANNER, starts_at=new, ends_at=new + timedelta(days=1),
                                            acknowledge_late=True, at=NOW + timedelta(hours=1)))  # fmt: skip
    if cancelled:
        state, _ = run(state, pr.Cancel(actor=PLANNER, reason="取消", at=NOW + timedelta(hours=1)))
    seen: list[datetime] = []
    for _ in range(10):
        due = pr.next_due(state, POLICY)
        if due is None:
            break
        assert due not in seen
        seen.append(due)
        state, _ = tick(state, due + timedelta(hours=down_for if not seen[:-1] else 0))
    else:
        pytest.fail(f"the clock did not end: {seen}")
    assert state.verdict is not None or not major or cancelled
