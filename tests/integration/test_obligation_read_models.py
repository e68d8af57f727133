"""The read models of eventstore/read_models.py against PostgreSQL, as the application role: the
promotion calendar (R-PROMO-3D) and the write-ups (R-NEWS-3WD), and the articles and inquiries
read models on the same folding code. Each row is what its stream's real domain events fold to,
whether applied in one batch, one event at a time, or by a rebuild (which TRUNCATEs)."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from domain import articles as a
from domain import inquiries as q
from domain import promotions as pr
from domain import writeups as w
from domain.events import DomainEvent
from domain.platforms import Platform
from domain.roles import Role
from domain.rules import RuleId
from eventstore.projections import ProjectionRunner
from eventstore.read_models import (
    ArticlesProjection,
    FoldingProjection,
    InquiriesProjection,
    PromotionsProjection,
    WriteUpsProjection,
)
from eventstore.store import NO_STREAM, EventStore, NewEvent

TWO = (Platform.WEBSITE, Platform.WECHAT)
STARTS = datetime(2027, 3, 20, 2, tzinfo=UTC)  # 10:00 in Beijing
ANNOUNCE_BY = STARTS - timedelta(days=3)
ENDS = datetime(2027, 3, 5, 10, tzinfo=UTC)
DUE = datetime(2027, 3, 10, 16, tzinfo=UTC)  # 24:00 in Beijing, the 3rd working day after


async def record(store: EventStore, stream_id: str, events: Sequence[DomainEvent]) -> None:
    """Append domain events as the workflows do (workflows/recording.py `append_request`)."""
    await store.append(
        stream_id,
        NO_STREAM,
        [NewEvent(uuid.uuid4(), e.type, e.payload(), schema_version=e.SCHEMA_VERSION) for e in events],
    )


async def row(db: asyncpg.Connection, table: str, key: str) -> dict[str, Any]:
    found = await db.fetchrow(f"SELECT * FROM {table} WHERE id = $1", key)  # noqa: S608
    assert found is not None, f"no {table} row {key}"
    return dict(found)


async def promotion(store: EventStore) -> str:
    """A major promotion on two platforms, announced in time on one: breached at its deadline."""
    key = uuid.uuid4().hex
    await record(
        store,
        pr.promotion_id(key),
        [
            pr.PromotionPlanned(
                promotion_id=pr.promotion_id(key),
                name="双十二大促",
                starts_at=STARTS,
                ends_at=STARTS + timedelta(days=2),
                major=True,
                platforms=TWO,
                owner="zhao.promo",
                by="zhao.promo",
                at=STARTS - timedelta(days=10),
                announce_by=ANNOUNCE_BY,
                cannot_meet=False,
            ),
            pr.AnnouncementLinked(
                article_id="a1", platforms=TWO, stage="waiting_on_manager", at=STARTS - timedelta(days=9)
            ),
            pr.Announced(
                platform=Platform.WEBSITE,
                article_id="a1",
                published_at=ANNOUNCE_BY - timedelta(days=1),
                late_by_s=0,
            ),
            pr.AnnouncementBreached(missing=(Platform.WECHAT,), at=ANNOUNCE_BY),
        ],
    )
    return key


async def writeup(store: EventStore) -> str:
    """An event written up on both platforms by a guessed due time (2027's calendar): met."""
    key = uuid.uuid4().hex
    await record(
        store,
        w.writeup_id(key),
        [
            w.EventReported(
                writeup_id=w.writeup_id(key),
                name="秋季新品发布会",
                ends_at=ENDS,
                platforms=TWO,
                owner="li.content",
                by="li.content",
                at=ENDS,
            ),
            w.WriteUpDue(ends_at=ENDS, due=DUE, remind_at=DUE - timedelta(days=2), flagged_years=(2027,)),
            *(
                w.WriteUpPublished(
                    platform=p, article_id="a2", published_at=DUE - timedelta(hours=5), late_by_s=0
                )
                for p in TWO
            ),
            w.WriteUpMet(at=DUE),
        ],
    )
    return key


async def test_a_promotions_row_is_its_folded_stream(store: EventStore, db: asyncpg.Connection) -> None:
    key = await promotion(store)
    assert await ProjectionRunner(store, PromotionsProjection()).catch_up() >= 4
    found = await row(db, "promotions", key)
    assert found["name"] == "双十二大促"
    assert (found["status"], found["compliance"], found["major"]) == ("breached", "breached", True)
    assert (found["owner"], found["starts_at"], found["announce_by"]) == ("zhao.promo", STARTS, ANNOUNCE_BY)
    assert found["ends_at"] == STARTS + timedelta(days=2)
    state = pr.Promotion.model_validate(found["state"])
    assert state.verdict == "breached"
    assert {p: (x.state, x.stage, x.announced_at) for p, x in state.platforms.items()} == {
        Platform.WEBSITE: ("announced", None, ANNOUNCE_BY - timedelta(days=1)),
        Platform.WECHAT: ("in_progress", "waiting_on_manager", None),
    }
    assert await db.fetchval("SELECT count(*) FROM promotions WHERE id LIKE 'promotion-%'") == 0


async def test_a_writeups_row_is_its_folded_stream(store: EventStore, db: asyncpg.Connection) -> None:
    key = await writeup(store)
    assert await ProjectionRunner(store, WriteUpsProjection()).catch_up() >= 5
    found = await row(db, "writeups", key)
    assert (found["name"], found["status"], found["owner"]) == ("秋季新品发布会", "met", "li.content")
    assert (found["ends_at"], found["due"], found["due_flagged"]) == (ENDS, DUE, True)
    state = w.WriteUp.model_validate(found["state"])
    assert state.flagged_years == (2027,)
    assert {p: x.state for p, x in state.platforms.items()} == dict.fromkeys(TWO, "announced")


async def test_a_writeup_without_its_due_time_yet_has_none(store: EventStore, db: asyncpg.Connection) -> None:
    key = uuid.uuid4().hex
    reported = w.EventReported(
        writeup_id=w.writeup_id(key),
        name="发布会",
        ends_at=ENDS,
        platforms=TWO,
        owner="li.content",
        by="li.content",
        at=ENDS,
    )
    await record(store, w.writeup_id(key), [reported])
    await ProjectionRunner(store, WriteUpsProjection()).catch_up()
    found = await row(db, "writeups", key)
    assert (found["status"], found["due"], found["due_flagged"]) == ("open", None, False)


async def test_only_the_process_own_events_on_its_streams_are_folded(
    store: EventStore, db: asyncpg.Connection
) -> None:
    key = await promotion(store)
    elsewhere = uuid.uuid4().hex
    planned = pr.PromotionPlanned(
        promotion_id=elsewhere,
        name="不是促销流",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(days=1),
        major=True,
        platforms=TWO,
        owner="x",
        by="x",
        at=STARTS - timedelta(days=10),
        announce_by=ANNOUNCE_BY,
        cannot_meet=False,
    )
    await record(store, f"campaign-{elsewhere}", [planned])  # a promotion event on another stream
    await store.append(
        pr.promotion_id(key), 4, [NewEvent(uuid.uuid4(), "test.happened", {"n": 1})]
    )  # another type on a promotion stream
    await ProjectionRunner(store, PromotionsProjection()).catch_up()
    assert (await row(db, "promotions", key))["status"] == "breached"
    assert not await db.fetchval("SELECT count(*) FROM promotions WHERE id LIKE '%' || $1", elsewhere)


async def article(store: EventStore) -> str:
    key = uuid.uuid4().hex
    content = a.Content(title="新品上市", body="<p>正文</p>", category="news", platforms=TWO)
    await record(
        store,
        f"article-{key}",
        [
            a.Submitted(
                article_id=key,
                author="li.content",
                version=1,
                content=content,
                content_hash=content.digest(),
                at=ENDS,
            ),
            a.ChecksPassed(version=1, wordlist_version="1", required=[Role.OPERATIONS_MANAGER]),
            a.ReviewRequested(version=1, role=Role.OPERATIONS_MANAGER, rule=RuleId.REVIEW_ALL),
        ],
    )
    return key


async def inquiry(store: EventStore) -> str:
    message = uuid.uuid4().hex
    stream = q.inquiry_id(Platform.WECHAT, message)
    sent = ENDS - timedelta(minutes=5)
    await record(
        store,
        stream,
        [
            q.InquiryReceived(
                platform=Platform.WECHAT,
                account="gh_1",
                message_id=message,
                user="u1",
                text="你好",
                sent_at=sent,
                detected_at=ENDS,
            ),
            q.SlaStarted(
                deadline=sent + timedelta(hours=12),
                warn_at=sent + timedelta(hours=10),
                window_closes=sent + timedelta(hours=48),
                clock="wall",
            ),
            q.Assigned(assignee="sun.channel", by="wang.manager", at=ENDS),
        ],
    )
    return stream


async def test_the_articles_and_inquiries_read_models_keep_their_rows(
    store: EventStore, db: asyncpg.Connection
) -> None:
    article_key, inquiry_key = await article(store), await inquiry(store)
    await ProjectionRunner(store, ArticlesProjection()).catch_up()
    await ProjectionRunner(store, InquiriesProjection()).catch_up()
    found = await row(db, "articles", article_key)  # keyed without "article-"
    assert (found["status"], found["version"], found["waiting_on_role"]) == (
        "in_review",
        1,
        "operations_manager",
    )
    assert (found["author"], found["title"], found["platforms"]) == (
        "li.content",
        "新品上市",
        ["website", "wechat"],
    )
    assert a.Article.model_validate(found["state"]).id == article_key
    found = await row(db, "inquiries", inquiry_key)  # keyed by the whole stream id
    assert (found["platform"], found["account"], found["user"], found["kind"]) == (
        "wechat",
        "gh_1",
        "u1",
        "message",
    )
    assert (found["status"], found["assignee"], found["reopened"]) == ("open", "sun.channel", 0)
    assert (found["received_at"], found["deadline"]) == (
        ENDS - timedelta(minutes=5),
        ENDS + timedelta(hours=12, minutes=-5),
    )
    assert (found["answered_at"], found["within_sla"]) == (None, None)


async def rows(db: asyncpg.Connection, table: str) -> list[dict[str, Any]]:
    """Every row but when it was written."""
    found = await db.fetch(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608
    return [{k: v for k, v in r.items() if k != "updated_at"} for r in found]


@pytest.mark.parametrize(
    "make", [PromotionsProjection, WriteUpsProjection, ArticlesProjection, InquiriesProjection]
)
async def test_a_rebuild_gives_the_same_rows(
    store: EventStore, db: asyncpg.Connection, make: type[FoldingProjection[Any]]
) -> None:
    await promotion(store)
    await writeup(store)
    await article(store)
    await inquiry(store)
    await ProjectionRunner(store, make()).catch_up()
    incremental = await rows(db, make.table)
    assert incremental
    assert await ProjectionRunner(store, make()).rebuild() > 0
    assert await rows(db, make.table) == incremental
    await ProjectionRunner(store, make(), batch_size=1).rebuild()  # each event folded onto its stored row
    assert await rows(db, make.table) == incremental
