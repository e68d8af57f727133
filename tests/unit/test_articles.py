"""The article decider: every rule of the review chain, as pure decide/evolve."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.articles import (
    Actor,
    Approved,
    Article,
    Confirm,
    Content,
    PublicationRecorded,
    PublishScheduled,
    PublishStarted,
    Reconcile,
    RecordChecks,
    RecordOutcome,
    Review,
    ReviewRequested,
    Revise,
    StartPublishing,
    Status,
    Submit,
    Withdraw,
    check_publish_at,
    decide,
    evolve,
    fold,
    initial_state,
    required_approvals,
)
from domain.errors import DomainError, PermissionDenied
from domain.outcomes import PublishOutcome
from domain.platforms import Platform
from domain.policy import Policy, policy_from_mapping
from domain.roles import Role
from domain.rules import RuleId

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
WRITER = Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
PROMOTER = Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
MANAGER = Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
BOSS = Actor(id="chen.gm", roles=frozenset({Role.GENERAL_MANAGER}))
POLICY = Policy()


def content(**changes: object) -> Content:
    fields: dict[str, object] = {
        "title": "秋季新品发布会回顾",
        "body": "<p>发布会圆满举行。</p>",
        "category": "company_news",
        "involves_company_project": False,
        "platforms": (Platform.WEBSITE, Platform.WECHAT),
        "source": "市场部",
    }
    return Content(**{**fields, **changes})


def run(state: Article, command: object, policy: Policy = POLICY) -> Article:
    for event in decide(command, state, policy):  # type: ignore[arg-type]
        state = evolve(state, event)
    return state


def submitted(policy: Policy = POLICY, **changes: object) -> Article:
    state = run(
        initial_state(), Submit(article_id="a1", actor=WRITER, content=content(**changes), at=NOW), policy
    )
    return run(state, RecordChecks(version=1, wordlist_version="w", problems=[], at=NOW), policy)


def test_every_post_waits_on_the_operations_manager_first() -> None:
    state = submitted()
    assert state.status is Status.IN_REVIEW
    assert state.waiting_on is Role.OPERATIONS_MANAGER
    assert state.content is not None
    assert state.content.editor == "li.content"  # R-ACCOUNTABLE: the submitter edits unless named


@pytest.mark.parametrize(
    ("changes", "policy", "steps"),
    [
        ({}, POLICY, [Role.OPERATIONS_MANAGER]),
        ({"involves_company_project": True}, POLICY, [Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER]),
        (
            {},
            policy_from_mapping({"R-REVIEW-STRICT": {"enabled": True}}),
            [Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER],
        ),
        (
            {"platforms": (Platform.WECHAT,)},
            policy_from_mapping({"R-REVIEW-STRICT": {"enabled": True}}),
            [Role.OPERATIONS_MANAGER],
        ),
        (
            {"category": "recruitment"},
            policy_from_mapping({"R-REVIEW-STRICT": {"enabled": True}}),
            [Role.OPERATIONS_MANAGER],
        ),  # R-CLASSIFIED: general information needs the manager only
    ],
)
def test_required_approvals(changes: dict[str, object], policy: Policy, steps: list[Role]) -> None:
    assert required_approvals(content(**changes), policy) == steps


def test_only_the_manager_reviews() -> None:
    with pytest.raises(PermissionDenied) as caught:
        decide(Review(actor=PROMOTER, version=1, decision="approve", at=NOW), submitted(), POLICY)
    assert caught.value.rule is RuleId.REVIEW_ALL


def test_manager_approval_completes_an_ordinary_post() -> None:
    state = run(submitted(), Review(actor=MANAGER, version=1, decision="approve", at=NOW))
    assert state.fully_approved
    assert state.status is Status.APPROVED
    assert state.waiting_on is None
    events = decide(StartPublishing(at=NOW), state, POLICY)
    assert {e.platform for e in events if isinstance(e, PublishStarted)} == {
        Platform.WEBSITE,
        Platform.WECHAT,
    }


def test_a_project_post_then_waits_on_the_general_manager() -> None:
    state = run(
        submitted(involves_company_project=True), Review(actor=MANAGER, version=1, decision="approve", at=NOW)
    )
    assert state.waiting_on is Role.GENERAL_MANAGER
    with pytest.raises(DomainError, match="R-REVIEW-ALL"):
        decide(StartPublishing(at=NOW), state, POLICY)
    with pytest.raises(PermissionDenied) as caught:
        decide(Confirm(actor=MANAGER, version=1, at=NOW), state, POLICY)
    assert caught.value.rule is RuleId.REVIEW_PROJECT
    confirmed = run(state, Confirm(actor=BOSS, version=1, at=NOW))
    assert confirmed.fully_approved


def test_the_general_manager_cannot_confirm_before_the_review() -> None:
    with pytest.raises(DomainError, match="no general_manager decision is pending"):
        decide(Confirm(actor=BOSS, version=1, at=NOW), submitted(involves_company_project=True), POLICY)


def test_approval_of_version_1_never_publishes_version_2() -> None:
    state = run(submitted(), Review(actor=MANAGER, version=1, decision="approve", at=NOW))
    revised = run(state, Revise(actor=WRITER, version=1, content=content(title="改过的标题"), at=NOW))
    assert revised.version == 2
    assert not revised.fully_approved
    with pytest.raises(DomainError, match="not approved by every required role"):
        decide(StartPublishing(at=NOW), revised, POLICY)
    rechecked = run(revised, RecordChecks(version=2, wordlist_version="w", problems=[], at=NOW))
    assert rechecked.waiting_on is Role.OPERATIONS_MANAGER
    with pytest.raises(DomainError, match="version 1 is not the current version 2"):
        decide(Review(actor=MANAGER, version=1, decision="approve", at=NOW), rechecked, POLICY)
    again = run(rechecked, Review(actor=MANAGER, version=2, decision="approve", at=NOW))
    [started] = decide(StartPublishing(at=NOW), again, POLICY)[:1]
    assert isinstance(started, PublishStarted)
    assert started.version == 2
    assert started.content_hash == content(title="改过的标题").digest()


def test_an_approval_is_tied_to_the_exact_content() -> None:
    state = run(submitted(), Review(actor=MANAGER, version=1, decision="approve", at=NOW))
    [approval] = state.approvals
    assert isinstance(approval, Approved)
    assert approval.content_hash == state.content_hash == content(editor="li.content").digest()


def test_changes_requested_then_revised_goes_back_to_review() -> None:
    state = run(
        submitted(), Review(actor=MANAGER, version=1, decision="request_changes", comment="补充图片", at=NOW)
    )
    assert state.status is Status.CHANGES_REQUESTED
    with pytest.raises(DomainError, match="say what should change"):
        decide(Review(actor=MANAGER, version=1, decision="request_changes", at=NOW), submitted(), POLICY)
    revised = run(state, Revise(actor=WRITER, version=1, content=content(body="<p>已补充</p>"), at=NOW))
    assert revised.status is Status.IN_REVIEW


def test_rejection_closes_the_article() -> None:
    state = run(submitted(), Review(actor=MANAGER, version=1, decision="reject", comment="不宜发布", at=NOW))
    assert state.status is Status.REJECTED
    with pytest.raises(DomainError, match="rejected"):
        decide(Revise(actor=WRITER, version=1, content=content(), at=NOW), state, POLICY)


def test_failed_checks_return_to_the_author_with_rule_ids() -> None:
    from domain.articles import Problem

    state = run(initial_state(), Submit(article_id="a1", actor=WRITER, content=content(), at=NOW))
    failed = run(
        state,
        RecordChecks(
            version=1,
            wordlist_version="w",
            problems=[Problem(rule=RuleId.NO_INSIDE, message="contains '内幕'")],
            at=NOW,
        ),
    )
    assert failed.status is Status.CHECKS_FAILED
    assert failed.waiting_on is None
    assert [p.rule for p in failed.problems] == [RuleId.NO_INSIDE]


def test_withdraw_before_publishing_only() -> None:
    assert run(submitted(), Withdraw(actor=WRITER, reason="活动取消", at=NOW)).status is Status.WITHDRAWN
    approved = run(submitted(), Review(actor=MANAGER, version=1, decision="approve", at=NOW))
    publishing = run(approved, StartPublishing(at=NOW))
    with pytest.raises(DomainError, match="can no longer be withdrawn"):
        decide(Withdraw(actor=WRITER, at=NOW), publishing, POLICY)


def test_a_future_publish_time_is_scheduled() -> None:
    later = NOW + timedelta(days=1)
    events = decide(
        Review(actor=MANAGER, version=1, decision="approve", at=NOW), submitted(publish_at=later), POLICY
    )
    assert any(isinstance(e, PublishScheduled) and e.at == later for e in events)


def test_outcomes_and_reconciliation() -> None:
    approved = run(
        submitted(platforms=(Platform.WECHAT, Platform.ZHIHU)),
        Review(actor=MANAGER, version=1, decision="approve", at=NOW),
    )
    state = run(approved, StartPublishing(at=NOW))
    state = run(
        state,
        RecordOutcome(
            platform=Platform.WECHAT, outcome=PublishOutcome(state="unknown", reason="timeout"), at=NOW
        ),
    )
    state = run(
        state,
        RecordOutcome(
            platform=Platform.ZHIHU, outcome=PublishOutcome(state="pending", handle="k", manual=True), at=NOW
        ),
    )
    assert state.publications[Platform.WECHAT].state == "unconfirmed"
    assert state.status is Status.ATTENTION
    with pytest.raises(DomainError, match="either the published URL or not_published"):
        decide(Reconcile(actor=WRITER, platform=Platform.WECHAT, at=NOW), state, POLICY)
    state = run(
        state, Reconcile(actor=WRITER, platform=Platform.WECHAT, url="https://mp.weixin.qq.com/s/x", at=NOW)
    )
    state = run(
        state,
        Reconcile(actor=PROMOTER, platform=Platform.ZHIHU, url="https://zhuanlan.zhihu.com/p/1", at=NOW),
    )
    assert state.status is Status.PUBLISHED
    assert state.publications[Platform.ZHIHU].url == "https://zhuanlan.zhihu.com/p/1"
    with pytest.raises(DomainError, match="nothing on zhihu"):
        decide(Reconcile(actor=WRITER, platform=Platform.ZHIHU, url="u", at=NOW), state, POLICY)


def test_a_platform_still_answering_cannot_be_reconciled() -> None:
    approved = run(
        submitted(platforms=(Platform.WECHAT,)), Review(actor=MANAGER, version=1, decision="approve", at=NOW)
    )
    state = run(approved, StartPublishing(at=NOW))
    state = run(
        state,
        RecordOutcome(platform=Platform.WECHAT, outcome=PublishOutcome(state="pending", handle="p1"), at=NOW),
    )
    with pytest.raises(DomainError, match="still answering"):
        decide(Reconcile(actor=WRITER, platform=Platform.WECHAT, url="u", at=NOW), state, POLICY)


def test_folding_the_events_rebuilds_the_same_state() -> None:
    events = []
    state = initial_state()
    for command in [
        Submit(article_id="a1", actor=WRITER, content=content(involves_company_project=True), at=NOW),
        RecordChecks(version=1, wordlist_version="w", problems=[], at=NOW),
        Review(actor=MANAGER, version=1, decision="approve", at=NOW),
        Confirm(actor=BOSS, version=1, at=NOW),
    ]:
        new = decide(command, state, POLICY)
        events += new
        for e in new:
            state = evolve(state, e)
    assert fold(events) == state
    assert [type(e).__name__ for e in events] == [
        "Submitted", "ChecksPassed", "ReviewRequested", "Approved", "ReviewRequested", "Approved",
    ]  # fmt: skip
    assert isinstance(events[4], ReviewRequested)
    assert events[4].rule is RuleId.REVIEW_PROJECT
    assert isinstance(events[-1], Approved | PublicationRecorded)


def test_scheduling_moves_the_time_without_a_new_approval() -> None:
    from domain.articles import Schedule

    approved = run(
        submitted(publish_at=NOW + timedelta(days=1)),
        Review(actor=MANAGER, version=1, decision="approve", at=NOW),
    )
    later = NOW + timedelta(days=3)
    moved = run(approved, Schedule(actor=WRITER, publish_at=later, at=NOW))
    assert moved.publish_at == later
    assert moved.fully_approved
    with pytest.raises(DomainError, match="must be in the future"):
        decide(Schedule(actor=MANAGER, publish_at=NOW - timedelta(hours=1), at=NOW), approved, POLICY)
    with pytest.raises(PermissionDenied):
        decide(Schedule(actor=PROMOTER, publish_at=later, at=NOW), approved, POLICY)


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [
        (None, False),
        (timedelta(hours=1), False),
        (-timedelta(minutes=4), False),  # now, by a clock a little behind ours
        (-timedelta(minutes=6), True),  # the past
        (timedelta(days=366), False),
        (timedelta(days=367), True),  # more than the policy's horizon ahead
    ],
)
def test_a_publishing_time_is_bounded(ahead: timedelta | None, refused: bool) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    publish_at = None if ahead is None else now + ahead
    if refused:
        with pytest.raises(DomainError) as caught:
            check_publish_at(publish_at, now, POLICY)
        assert (caught.value.field, caught.value.rule) == ("publish_at", RuleId.ACCOUNTABLE)
    else:
        check_publish_at(publish_at, now, POLICY)
