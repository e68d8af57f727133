"""How a linked article reaches its obligation: its stage, what it is told, and the article's link."""

from datetime import UTC, datetime, timedelta

import pytest

from domain import announcements as an
from domain import articles as a
from domain import promotions as pr
from domain.commands import Actor
from domain.errors import Invalid
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PLANNER = Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
WRITER = Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
MANAGER = Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
TWO = (Platform.WEBSITE, Platform.WECHAT)
POLICY = Policy()


def planned() -> pr.Promotion:
    start = NOW + timedelta(days=10)
    command = pr.Plan(actor=PLANNER, promotion_id="p1", name="大促", starts_at=start,
                      ends_at=start + timedelta(days=2), major=True, platforms=TWO, at=NOW)  # fmt: skip
    return tell(pr.initial_promotion(), command)


def tell(state: pr.Promotion, *commands: object) -> pr.Promotion:
    for command in commands:
        for event in pr.decide_promotion(command, state, POLICY):  # type: ignore[arg-type]
            state = pr.evolve_promotion(state, event)
    return state


def told(state: pr.Promotion, seen: an.Seen) -> tuple[pr.Promotion, int]:
    """The state after telling it `seen`, and how many events that recorded."""
    events = 0
    for command in an.commands_for(state.platforms, seen, NOW):
        decided = pr.decide_promotion(command, state, POLICY)
        events += len(decided)
        for event in decided:
            state = pr.evolve_promotion(state, event)
    return state, events


def article(**changes: object) -> a.Article:
    body = a.Content(title="预告", body='<p>x</p><img src="https://img.example/a.jpg">', category="promotion",
                     platforms=TWO)  # fmt: skip
    submitted = a.Submitted(article_id="a1", author=WRITER.id, version=1, content=body,
                            content_hash=body.digest(), at=NOW, promotion_id="p1")  # fmt: skip
    return a.evolve(a.initial_state(), submitted).model_copy(update=changes)


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({}, "drafting"),  # not checked yet
        ({"checked": True, "waiting_on": Role.OPERATIONS_MANAGER}, "waiting_on_manager"),
        ({"checked": True, "waiting_on": Role.GENERAL_MANAGER}, "waiting_on_general_manager"),
        ({"checked": True, "changes_requested": True}, "drafting"),
        ({"checked": True}, "publishing"),
        ({"closed": "withdrawn"}, "closed"),
        ({"closed": "rejected"}, "closed"),
    ],
)
def test_an_articles_stage_is_where_it_is_stuck(changes: dict[str, object], stage: str) -> None:
    assert an.stage_of(article(**changes)) == stage


def test_the_submitted_link_is_kept_on_the_article_and_out_of_its_content_hash() -> None:
    linked = article()
    assert linked.promotion_id == "p1"
    assert linked.content_hash == linked.content.digest()  # type: ignore[union-attr]


def test_told_twice_the_same_article_records_nothing_more() -> None:
    seen = an.Seen(article_id="a1", platforms=TWO, stage="waiting_on_manager")
    state, first = told(planned(), seen)
    again, second = told(state, seen)
    assert (first, second) == (1, 0)
    assert again == state
    out = seen.model_copy(update={"stage": "publishing", "published": {Platform.WEBSITE: NOW}})
    state, recorded = told(state, out)
    assert recorded == 2  # the publication, and where the other platform is now
    assert state.platforms[Platform.WEBSITE].state == "announced"
    assert state.platforms[Platform.WECHAT].stage == "publishing"
    assert told(state, out) == (state, 0)


def test_a_withdrawn_article_or_a_platform_it_dropped_leaves_the_platform_missing_again() -> None:
    state, _ = told(planned(), an.Seen(article_id="a1", platforms=TWO, stage="drafting"))
    state, _ = told(state, an.Seen(article_id="a1", platforms=(Platform.WEBSITE,), stage="drafting"))
    assert state.platforms[Platform.WECHAT] == an.Announcement()  # no longer this article's
    assert state.platforms[Platform.WEBSITE].state == "in_progress"
    state, _ = told(state, an.Seen(article_id="a1", platforms=(Platform.WEBSITE,), stage="closed"))
    assert all(x == an.Announcement() for x in state.platforms.values())


def test_a_closed_article_never_frees_a_platform_another_article_holds() -> None:
    state, _ = told(planned(), an.Seen(article_id="a2", platforms=TWO, stage="publishing"))
    state, events = told(state, an.Seen(article_id="a1", platforms=TWO, stage="closed"))
    assert events == 0
    assert {x.article_id for x in state.platforms.values()} == {"a2"}


@pytest.mark.parametrize(
    ("link", "category", "body", "field"),
    [
        ({"promotion_id": "p1"}, "news", "<p>x</p>", "category"),
        ({"writeup_id": "w1"}, "company_news", "<p>no picture</p>", "body"),
        ({"promotion_id": "p1", "writeup_id": "w1"}, "promotion", "<img src='x'>", "writeup_id"),
    ],
)
def test_a_link_the_article_cannot_keep_is_refused_naming_the_field(
    link: dict[str, str], category: str, body: str, field: str
) -> None:
    content = a.Content(title="t", body=body, category=category, platforms=TWO)  # type: ignore[arg-type]
    with pytest.raises(Invalid) as refused:
        a.decide(
            a.Submit(article_id="a1", actor=WRITER, content=content, at=NOW, **link),
            a.initial_state(),
            POLICY,
        )
    assert refused.value.field == field


def test_a_revision_cannot_take_away_what_made_the_article_count() -> None:
    state = article(checked=True, changes_requested=True)
    plain = state.content.model_copy(update={"category": "news"})  # type: ignore[union-attr]
    with pytest.raises(Invalid) as refused:
        a.decide(a.Revise(actor=WRITER, version=1, content=plain, at=NOW), state, POLICY)
    assert refused.value.field == "category"


def test_a_publication_records_the_workflows_time() -> None:
    state = article(checked=True)
    outcome = a.RecordOutcome(platform=Platform.WEBSITE, outcome=a.PublishOutcome(state="published"), at=NOW)
    [event] = a.decide(outcome, state, POLICY)
    assert isinstance(event, a.PublicationRecorded)
    assert event.at == NOW


def test_two_open_articles_on_one_platform_never_take_it_from_each_other() -> None:
    """The reviewer's case: a replacement announcement submitted while the first is in review."""
    first = an.Seen(article_id="a1", platforms=TWO, stage="waiting_on_manager")
    second = an.Seen(article_id="a2", platforms=TWO, stage="drafting")
    state, _ = told(planned(), first)
    for _ in range(3):  # every reading: the same two articles, nothing new
        state, events = told(state, second)
        assert events == 0
        state, events = told(state, first)
        assert events == 0
    assert {x.article_id for x in state.platforms.values()} == {"a1"}
    state, _ = told(state, first.model_copy(update={"stage": "closed"}))
    state, _ = told(state, second)
    assert {x.article_id for x in state.platforms.values()} == {"a2"}  # once the first is closed


@pytest.mark.parametrize(
    ("body", "pictured"),
    [
        ('<p>x</p><img src="https://img.example/a.jpg">', True),
        ("<img alt='a' src='a.png'>", True),
        ('<img data-src="a.jpg">', False),
        ('<img src="">', False),
        ('<!-- <img src="a.jpg"> --><p>x</p>', False),
    ],
)
def test_a_write_up_carries_a_real_picture(body: str, pictured: bool) -> None:
    content = a.Content(title="t", body=body, category="company_news", platforms=TWO)
    submit = a.Submit(article_id="a1", actor=WRITER, content=content, at=NOW, writeup_id="w1")
    if pictured:
        assert a.decide(submit, a.initial_state(), POLICY)
    else:
        with pytest.raises(Invalid):
            a.decide(submit, a.initial_state(), POLICY)
