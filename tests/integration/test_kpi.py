"""R-KPI against PostgreSQL: the rows of a week (and a month) from the read models, as the
application role, for two owners; then `GET /kpi` and `GET /kpi.csv` over the same rows.

The read models' rows are inserted as their projections would leave them; the API runs over the
real database and a Temporal address nobody listens on (the KPI never asks Temporal).
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from deploy.processes import free_port
from domain.kpi import CSV_COLUMNS, KpiRow
from domain.periods import parse
from domain.policy import Policy
from domain.roles import Role
from eventstore.db import connect
from eventstore.kpi import kpi_rows
from eventstore.users import demo_user_id, ensure_demo_users, issue_token
from mediaops.settings import Settings

POLICY = Policy()
WEEK = parse("2026-W48")  # Monday 23 to Sunday 29 November 2026, Asia/Shanghai
NOW = datetime(2026, 11, 29, 16, tzinfo=UTC)  # Monday 30 November, 00:00 in Beijing
ALICE, BOB = "alice.content", "bob.channel"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def cadence(
    db: asyncpg.Connection, subject: str, kind: str, period: str, first_day: date, status: str,
    owner: str | None, count: int = 1, target: int = 1, rule: str = "R-CADENCE-DAILY",
) -> None:  # fmt: skip
    await db.execute(
        """INSERT INTO cadence_periods (id, rule, subject, platform, kind, period, first_day, status,
                                        count, target, owner, closes_at, state)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '{}')""",
        f"{subject}-{period}", rule, subject, subject.partition(":")[0], kind, period, first_day, status,
        count, target, owner, utc(2026, 11, 29, 16),
    )  # fmt: skip


async def inquiry(
    db: asyncpg.Connection, key: str, received_at: datetime, status: str, assignee: str | None,
    answered_at: datetime | None = None, within_sla: bool | None = None,
) -> None:  # fmt: skip
    deadline = received_at + timedelta(hours=12)
    await db.execute(
        """INSERT INTO inquiries (id, platform, account, "user", status, received_at, deadline,
                                  answered_at, within_sla, assignee, state)
           VALUES ($1, 'phone', 'demo', '张先生', $2, $3, $4, $5, $6, $7, $8)""",
        key, status, received_at, deadline, answered_at, within_sla, assignee,
        {"sent_at": received_at.isoformat()},
    )  # fmt: skip


def platforms(announced: int, required: int) -> dict[str, Any]:
    names = ["website", "wechat", "weibo", "zhihu"][:required]
    return {
        "platforms": {p: {"state": "announced" if i < announced else "missing"} for i, p in enumerate(names)}
    }


async def promotion(
    db: asyncpg.Connection, key: str, announce_by: datetime, status: str, owner: str, major: bool = True
) -> None:
    await db.execute(
        """INSERT INTO promotions (id, name, status, compliance, major, owner, starts_at, ends_at,
                                   announce_by, state)
           VALUES ($1, '大促', $2, $2, $3, $4, $5, $5, $6, $7)""",
        key, status, major, owner, announce_by + timedelta(days=3), announce_by,
        platforms(2 if status == "met" else 1, 2),
    )  # fmt: skip


async def writeup(db: asyncpg.Connection, key: str, due: datetime, status: str, owner: str) -> None:
    await db.execute(
        """INSERT INTO writeups (id, name, status, owner, ends_at, due, due_flagged, state)
           VALUES ($1, '发布会', $2, $3, $4, $4, false, $5)""",
        key, status, owner, due, platforms(1, 3),
    )  # fmt: skip


async def approval(
    db: asyncpg.Connection, article: str, role: str, requested_at: datetime, position: int,
    decided_by: str | None = None, took: timedelta | None = None, escalated: bool = False,
) -> None:  # fmt: skip
    await db.execute(
        """INSERT INTO approvals (article_id, version, role, requested_at, requested_position,
                                  decided_by, decided_at, outcome, escalated, decided_position)
           VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        article, role, requested_at, position, decided_by,
        requested_at + took if took is not None else None, "approved" if decided_by else None,
        escalated, position + 1 if decided_by else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def seeded(database: str) -> None:
    """A week of obligations for Alice and Bob, and some just outside it."""
    db = await connect(database)
    try:
        # Alice's cadence: the website's week met, WeChat's Tuesday missed, Wednesday still open,
        # Thursday owed nothing; the next week and the Sunday before are other weeks.
        await cadence(
            db, "website", "week", "2026-W48", date(2026, 11, 23), "met", ALICE, 3, 3, "R-CADENCE-WEB"
        )
        await cadence(db, "wechat", "day", "2026-11-24", date(2026, 11, 24), "missed", ALICE, 0)
        await cadence(db, "wechat", "day", "2026-11-25", date(2026, 11, 25), "open", ALICE, 0)
        await cadence(db, "wechat", "day", "2026-11-26", date(2026, 11, 26), "not_owed", ALICE, 0)
        await cadence(
            db, "website", "week", "2026-W49", date(2026, 11, 30), "met", ALICE, 3, 3, "R-CADENCE-WEB"
        )
        await cadence(db, "wechat", "day", "2026-11-22", date(2026, 11, 22), "met", ALICE)
        await cadence(
            db, "column:c1", "month", "2026-11", date(2026, 11, 1), "met", ALICE, 1, 1, "R-FIXED-MONTHLY"
        )
        # Nobody owned the recruitment section on Friday.
        await cadence(
            db, "miniprogram:recruitment", "day", "2026-11-27", date(2026, 11, 27), "missed", None, 0,
            rule="R-CADENCE-MP",
        )  # fmt: skip
        # Bob's inquiries: one in time, one never answered, one still within its 12 hours (23:00 on
        # Sunday in Beijing); one received at 00:30 on Monday is next week's; spam owes nothing.
        await inquiry(
            db, "inquiry-phone-kept", utc(2026, 11, 24, 2), "answered", BOB, utc(2026, 11, 24, 4, 10), True
        )
        await inquiry(db, "inquiry-phone-broken", utc(2026, 11, 25, 2), "breached", BOB)
        await inquiry(db, "inquiry-phone-pending", utc(2026, 11, 29, 15), "open", BOB)
        await inquiry(db, "inquiry-phone-next", utc(2026, 11, 29, 16, 30), "open", BOB)
        await inquiry(db, "inquiry-phone-spam", utc(2026, 11, 26, 2), "closed", BOB)
        # Bob's promotions: met, breached; a minor one and a cancelled one owe no R-PROMO-3D.
        await promotion(db, "p-met", utc(2026, 11, 26, 2), "met", BOB)
        await promotion(db, "p-breached", utc(2026, 11, 27, 2), "breached", BOB)
        await promotion(db, "p-minor", utc(2026, 11, 27, 2), "met", BOB, major=False)
        await promotion(db, "p-cancelled", utc(2026, 11, 27, 2), "cancelled", BOB)
        # Alice's write-ups: one breached (due 24:00 Friday), one out but not judged yet (due 24:00
        # Sunday: still this week); one due at 00:00 on the Sunday before is last week's.
        await writeup(db, "w-breached", utc(2026, 11, 27, 16), "breached", ALICE)
        await writeup(db, "w-published", utc(2026, 11, 29, 16), "published", ALICE)
        await writeup(db, "w-last-week", utc(2026, 11, 22, 16), "met", ALICE)
        # Approvals: Bob decided one in an hour, one only after it was escalated; the general
        # manager's confirmation is still waiting.
        await approval(db, "a1", "operations_manager", utc(2026, 11, 24, 1), 100, BOB, timedelta(hours=1))
        await approval(
            db, "a2", "operations_manager", utc(2026, 11, 25, 1), 200, BOB, timedelta(days=2), True
        )
        await approval(db, "a3", "general_manager", utc(2026, 11, 26, 1), 300)
        await approval(db, "a4", "operations_manager", utc(2026, 11, 30, 1), 400, BOB, timedelta(hours=1))
    finally:
        await db.close()


@pytest.fixture
async def app_conn(app_database: str, seeded: None) -> AsyncIterator[asyncpg.Connection]:
    """The application role's connection: what the API reads the KPI as."""
    conn = await connect(app_database)
    try:
        yield conn
    finally:
        await conn.close()


def tally(rows: list[KpiRow]) -> dict[str, tuple[int, int, int]]:
    found: dict[str, list[int]] = {}
    for r in rows:
        counts = found.setdefault(r.owner, [0, 0, 0])
        counts[0 if r.kept is True else 1 if r.kept is False else 2] += 1
    return {owner: (c[0], c[1], c[2]) for owner, c in found.items()}


async def test_a_weeks_obligations_per_owner_kept_broken_and_pending(app_conn: asyncpg.Connection) -> None:
    rows = await kpi_rows(app_conn, WEEK, POLICY, now=NOW)
    assert tally(rows) == {
        ALICE: (1, 2, 2),  # website met; Tuesday missed, a write-up breached; Wednesday, a write-up out
        BOB: (3, 3, 1),  # inquiry, promotion, approval each kept and broken; an inquiry still in time
        "role:general_manager": (0, 0, 1),
        "unassigned": (0, 1, 0),
    }
    by_subject = {r.subject: r for r in rows}
    assert set(by_subject) == {
        "website", "wechat", "miniprogram:recruitment",
        "inquiry-phone-kept", "inquiry-phone-broken", "inquiry-phone-pending",
        "p-met", "p-breached", "w-breached", "w-published",
        "a1 v1 operations_manager", "a2 v1 operations_manager", "a3 v1 general_manager",
    }  # fmt: skip
    assert len(rows) == 14  # two WeChat days
    assert sorted((r.period, r.kept) for r in rows if r.subject == "wechat") == [
        ("2026-11-24", False),
        ("2026-11-25", None),
    ]
    website = by_subject["website"]
    assert (website.stream_id, website.detail, website.kept) == (
        "cadence-website-2026-W48",
        "3 of 3 posts",
        True,
    )
    kept = by_subject["inquiry-phone-kept"]
    assert (kept.detail, kept.stream_id) == ("answered in 2h10m (deadline 12h)", "inquiry-phone-kept")
    assert by_subject["p-breached"].detail == "announced on 1 of 2 platforms in time"
    assert by_subject["w-breached"].stream_id == "writeup-w-breached"
    a1, a2 = by_subject["a1 v1 operations_manager"], by_subject["a2 v1 operations_manager"]
    assert (a1.stream_id, a1.position, a1.took_s, a1.rule.value) == ("article-a1", 101, 3600, "R-REVIEW-ALL")
    assert (a2.kept, a2.detail) == (False, "escalated, then approved in 48h00m")
    a3 = by_subject["a3 v1 general_manager"]
    assert (a3.rule.value, a3.position, a3.kept) == ("R-REVIEW-PROJECT", 300, None)


async def test_the_rows_come_in_review_order(app_conn: asyncpg.Connection) -> None:
    rows = await kpi_rows(app_conn, WEEK, POLICY, now=NOW)
    owners = [r.owner for r in rows]
    assert owners == sorted(owners)
    alice = [(r.rule.value, r.subject, r.period) for r in rows if r.owner == ALICE]
    assert alice == [
        ("R-CADENCE-DAILY", "wechat", "2026-11-24"),
        ("R-CADENCE-DAILY", "wechat", "2026-11-25"),
        ("R-CADENCE-WEB", "website", "2026-W48"),
        ("R-NEWS-3WD", "w-breached", "2026-11-27"),
        ("R-NEWS-3WD", "w-published", "2026-11-29"),
    ]
    assert rows == await kpi_rows(app_conn, WEEK, POLICY, now=NOW)


async def test_an_unanswered_inquiry_turns_broken_once_its_deadline_has_passed(
    app_conn: asyncpg.Connection,
) -> None:
    later = await kpi_rows(app_conn, WEEK, POLICY, now=NOW + timedelta(days=1))
    assert next(r for r in later if r.subject == "inquiry-phone-pending").kept is False


async def test_a_month_counts_the_weeks_that_end_in_it_and_its_fixed_columns(
    app_conn: asyncpg.Connection,
) -> None:
    rows = await kpi_rows(app_conn, parse("2026-11"), POLICY, now=NOW)
    cadence = {(r.subject, r.period) for r in rows if r.obligation == "cadence"}
    assert ("website", "2026-W48") in cadence
    assert ("website", "2026-W49") not in cadence  # it ends on 6 December
    assert ("column:c1", "2026-11") in cadence
    assert ("wechat", "2026-11-22") in cadence
    assert ("wechat", "2026-11-26") not in cadence  # owed nothing
    assert "inquiry-phone-next" in {r.subject for r in rows}


async def test_only_the_rules_the_policy_counts(app_conn: asyncpg.Connection) -> None:
    policy = Policy.model_validate({"R-KPI": {"counted_rules": ["R-INQUIRY-12H"]}})
    rows = await kpi_rows(app_conn, WEEK, policy, now=NOW)
    assert {r.obligation for r in rows} == {"inquiry", "approval"}


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def client(database: str, seeded: None) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database, temporal_address=f"127.0.0.1:{free_port()}", env="test")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http
    await app.state.mediaops.close()


async def headers_for(database: str, role: Role) -> dict[str, str]:
    conn = await connect(database)
    try:
        await ensure_demo_users(conn)
        token = await issue_token(conn, demo_user_id(role), "test")
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {token}"}


async def test_the_kpi_json_and_its_csv_have_the_same_rows(client: httpx.AsyncClient, database: str) -> None:
    auditor = await headers_for(database, Role.AUDITOR)
    answer = await client.get("/kpi", params={"period": "2026-W48"}, headers=auditor)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"period", "rule", "bounds", "owners", "rows"}
    assert (body["period"], body["rule"]) == ("2026-W48", "R-KPI")
    assert body["bounds"] == {
        "kind": "week",
        "first": "2026-11-23",
        "last": "2026-11-29",
        "start": "2026-11-22T16:00:00+00:00",
        "end": "2026-11-29T16:00:00+00:00",
        "timezone": "Asia/Shanghai",
    }
    owners = {o["owner"]: o for o in body["owners"]}
    assert (owners[ALICE]["kept"], owners[ALICE]["broken"], owners[ALICE]["rate"]) == (1, 2, 0.3333)
    rows = body["rows"]
    assert len(rows) == 14
    assert list(rows[0]) == list(CSV_COLUMNS)

    exported = await client.get("/kpi.csv", params={"period": "2026-W48"}, headers=auditor)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))

    def cell(value: object) -> str:
        return "" if value is None else "true" if value is True else "false" if value is False else str(value)

    assert [dict(line) for line in table] == [{c: cell(r[c]) for c in CSV_COLUMNS} for r in rows]


async def test_a_bad_period_is_a_422_naming_period(client: httpx.AsyncClient, database: str) -> None:
    auditor = await headers_for(database, Role.AUDITOR)
    for path in ("/kpi", "/kpi.csv"):
        answer = await client.get(path, params={"period": "2026-W60"}, headers=auditor)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert (body["field"], body["rule"]) == ("period", "R-KPI")
        assert "is not a period" in body["detail"]
        missing = await client.get(path, headers=auditor)
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["query", "period"]


async def test_a_specialist_may_not_read_the_kpi(client: httpx.AsyncClient, database: str) -> None:
    writer = await headers_for(database, Role.CONTENT_SPECIALIST)
    answer = await client.get("/kpi", params={"period": "2026-W48"}, headers=writer)
    assert answer.status_code == 403, answer.text
    assert (answer.json()["rule"], answer.json()["permission"]) == ("R-KPI", "kpi.read")
