"""The console's pages with 1,000 articles and 1,000 inquiries in the system: server time, and its
ratio to the bare read every page makes, in the same run.

    python -m bench.console                  # starts its own embedded PostgreSQL (fsync off)
    DATABASE_URL=postgresql://... python -m bench.console
    python -m bench.console --articles 200 --inquiries 200 --rounds 10     # shorter

A fresh database gets `--articles` articles (each with its record in the event store: submitted,
checked, waiting on the operations manager or the general manager, or approved and published)
and `--inquiries` inquiries (open, at risk, breached, answered; a third assigned to the specialist),
as the projections write them. The API app runs in this process (the ASGI app called directly, so
the time is the server's: routing, session, permission, queries, template); Temporal is an address
nobody answers, so an article page takes its read model's copy, as for a closed workflow.

Each page is asked `--rounds` times (20) for the person it is for, and the median and the 95th
percentile are kept. The baseline is the read no page can do without, measured in the same rounds:
50 inquiries and 50 articles read from their read models and validated. Goal: every page's median
under 300 ms (a page over it is said, not an exit status). The last line printed is one JSON object.
"""

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from activities.platforms.accounts import Accounts
from api.app import create_app
from bench import migrated_database
from deploy.fakes.app import demo_account_list
from deploy.postgres import scratch_server
from deploy.processes import free_port
from domain import articles as a
from domain import inquiries as q
from domain.platforms import Platform
from domain.roles import Role
from domain.rules import RuleId
from eventstore.db import connect, create_pool
from eventstore.logins import open_session
from eventstore.store import NO_STREAM, EventStore, NewEvent
from eventstore.users import demo_user_id, ensure_demo_users
from mediaops.keys import ensure_keys_file
from mediaops.settings import Settings

ARTICLES = 1000
INQUIRIES = 1000
ROUNDS = 20
GOAL_MS = 300.0
NOW = datetime.now(UTC)
MANAGER = demo_user_id(Role.OPERATIONS_MANAGER)
WRITER = demo_user_id(Role.CONTENT_SPECIALIST)
ANSWERER = demo_user_id(Role.CHANNEL_SPECIALIST)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _article(n: int) -> tuple[a.Article, list[Any]]:
    """An article and its events, as the review chain leaves it: one in four still waits on the
    operations manager, one in ten on the general manager, the others published."""
    key = f"bench{n:05d}"
    content = a.Content(
        title=f"第 {n} 篇：新园区项目进展", body="<p>" + "今日项目进展顺利。" * 40 + "</p>",
        category="company_news", involves_company_project=n % 10 == 0,
        platforms=(Platform.WEBSITE, Platform.WECHAT), source="市场部",
    )  # fmt: skip
    at = NOW - timedelta(hours=n % 200, minutes=n)
    digest = content.digest()
    events: list[Any] = [
        a.Submitted(article_id=key, author=WRITER, version=1, content=content, content_hash=digest, at=at),
        a.ChecksPassed(version=1, wordlist_version="bench", required=[Role.OPERATIONS_MANAGER]),
    ]
    waiting = Role.OPERATIONS_MANAGER if n % 4 == 0 else Role.GENERAL_MANAGER if n % 10 == 1 else None
    events.append(a.ReviewRequested(version=1, role=Role.OPERATIONS_MANAGER, rule=RuleId.REVIEW_ALL))
    state = a.Article(id=key, author=WRITER, written_by=WRITER, version=1, content=content,
                      content_hash=digest, checked=True, required=[Role.OPERATIONS_MANAGER])  # fmt: skip
    if waiting is Role.OPERATIONS_MANAGER:
        state.waiting_on = waiting
        return state, events
    approved = a.Approved(version=1, role=Role.OPERATIONS_MANAGER, actor=MANAGER, content_hash=digest, at=at)
    events.append(approved)
    state.approvals = [approved]
    if waiting is Role.GENERAL_MANAGER:
        state.required = [Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER]
        state.waiting_on = waiting
        events.append(a.ReviewRequested(version=1, role=waiting, rule=RuleId.REVIEW_PROJECT))
        return state, events
    state.publications = {
        p: a.Publication(state="published", url=f"https://example.com/{key}/{p.value}")
        for p in content.platforms
    }
    return state, events


def _inquiry(n: int) -> q.Inquiry:
    sent = NOW - timedelta(minutes=7 * n % 900)
    first = q.Message(message_id=f"m{n}", text=f"请问第 {n} 期活动几点开始？", sent_at=sent)
    inquiry = q.Inquiry(
        id=f"inquiry-phone-bench{n:05d}", platform="phone", account="demo", user=f"用户{n}", text=first.text,
        message_id=first.message_id, sent_at=sent, deadline=sent + timedelta(hours=12), messages=[first],
        assignee=ANSWERER if n % 3 == 0 else None,
    )  # fmt: skip
    if n % 5 == 0:
        inquiry.answered_at, inquiry.within_sla = sent + timedelta(hours=1), True
    elif sent + timedelta(hours=10) < NOW:
        inquiry.warned = True
    return inquiry


async def seed(dsn: str, articles: int, inquiries: int) -> None:
    conn = await connect(dsn)
    store_pool = await create_pool(dsn, min_size=1, max_size=2)
    store = EventStore(store_pool)
    try:
        for n in range(articles):
            state, events = _article(n)
            stream = f"article-{state.id}"
            batch = [
                NewEvent(uuid.uuid4(), e.type, e.payload(), {"actor": WRITER, "rule_ids": ["R-REVIEW-ALL"]})
                for e in events
            ]
            await store.append(stream, NO_STREAM, batch)
            await conn.execute(
                """INSERT INTO articles (id, status, version, waiting_on_role, author, title, platforms,
                                         state,
                                         updated_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8)""",
                state.id, state.status.value, state.waiting_on.value if state.waiting_on else None, WRITER,
                state.content.title if state.content else "", ["website", "wechat"],
                state.model_dump(mode="json"), NOW - timedelta(minutes=n),
            )  # fmt: skip
            if state.waiting_on is not None:
                await conn.execute(
                    """INSERT INTO approvals (article_id, version, role, requested_at, requested_position)
                       VALUES ($1, 1, $2, $3, 0)""",
                    state.id, state.waiting_on.value, NOW - timedelta(hours=n % 48),
                )  # fmt: skip
        for n in range(inquiries):
            i = _inquiry(n)
            await conn.execute(
                """INSERT INTO inquiries (id, platform, account, "user", status, received_at, deadline,
                                          answered_at, within_sla, assignee, state)
                   VALUES ($1, 'phone', 'demo', $2, $3, $4, $5, $6, $7, $8, $9)""",
                i.id, i.user, i.status, i.received_at, i.deadline, i.answered_at, i.within_sla, i.assignee,
                i.model_dump(mode="json"),
            )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await store.close()
        await store_pool.close()
        await conn.close()


async def timed(call: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def summary(spent: list[float]) -> dict[str, float]:
    ordered = sorted(spent)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.95) - 1)], 2),
    }


async def measure(dsn: str, rounds: int) -> dict[str, Any]:
    keys = Path(tempfile.mkdtemp(prefix="bench-console-")) / "keys.toml"
    ensure_keys_file(keys)  # the codec and command keys of this run alone
    settings = Settings(
        database_url=dsn, temporal_address=f"127.0.0.1:{free_port()}", env="test", keys_file=keys
    )
    app = create_app(settings, Accounts(demo_account_list("http://127.0.0.1:9")))
    conn = await connect(dsn)
    try:
        cookies = {
            who: (await open_session(conn, who, settings.policy.secrets))[0]
            for who in (MANAGER, WRITER, ANSWERER)
        }
    finally:
        await conn.close()
    pool = await app.state.mediaops.database()
    pages = [
        ("my_work_manager", MANAGER, "/"),
        ("my_work_specialist", ANSWERER, "/"),
        ("articles", WRITER, "/console/articles"),
        ("article", MANAGER, "/console/articles/bench00004"),
        ("sla_board", ANSWERER, "/console/inquiries"),
        ("sla_board_rows", ANSWERER, "/console/inquiries?rows=true"),
        ("inquiry", ANSWERER, "/console/inquiries/inquiry-phone-bench00007"),
        ("calendar", MANAGER, "/console/calendar"),
        ("reports", MANAGER, "/console/reports"),
        ("kpi", MANAGER, "/console/kpi"),
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench") as http:

        async def baseline() -> None:
            for row in await pool.fetch("SELECT state FROM inquiries ORDER BY deadline, id LIMIT 50"):
                q.Inquiry.model_validate(row["state"])
            for row in await pool.fetch("SELECT state FROM articles ORDER BY updated_at DESC, id LIMIT 50"):
                a.Article.model_validate(row["state"])

        for name, who, path in pages:  # once each, to warm the templates and the pool
            answer = await http.get(path, cookies={"mediaops_session": cookies[who]})
            if answer.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {answer.status_code}: {answer.text[:300]}")
        base = summary(await timed(baseline, rounds))
        pages_found: dict[str, Any] = {}
        for name, who, path in pages:
            say(f"{name} ...")

            async def ask(path: str = path, who: str = who) -> None:
                await http.get(path, cookies={"mediaops_session": cookies[who]})

            spent = await timed(ask, rounds)
            found = summary(spent)
            found["ratio_to_baseline"] = round(found["median_ms"] / base["median_ms"], 2)
            found["under_goal"] = found["median_ms"] < GOAL_MS
            pages_found[name] = found
            if not found["under_goal"]:
                say(f"{name}: median {found['median_ms']} ms is over the {GOAL_MS:.0f} ms goal")
    await app.state.mediaops.close()
    return {
        "baseline": base,
        "pages": pages_found,
        "all_under_goal": all(p["under_goal"] for p in pages_found.values()),
    }


async def run(server: str, articles: int, inquiries: int, rounds: int) -> dict[str, Any]:
    async with migrated_database(server, "bench_console") as dsn:
        conn = await connect(dsn)
        try:
            await ensure_demo_users(conn)
        finally:
            await conn.close()
        say(f"seeding {articles} articles and {inquiries} inquiries ...")
        await seed(dsn, articles, inquiries)
        result = await measure(dsn, rounds)
        return {"articles": articles, "inquiries": inquiries, "rounds": rounds, "goal_ms": GOAL_MS, **result}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--inquiries", type=int, default=INQUIRIES)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="requests per page (median kept)")
    args = parser.parse_args(argv)
    with scratch_server(os.environ.get("DATABASE_URL")) as server:
        result = asyncio.run(run(server, args.articles, args.inquiries, max(1, args.rounds)))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
