"""The audit against the bare work it cannot avoid, on the same data, in the same run: ratios, not times.

    python -m bench.audit                     # starts its own embedded PostgreSQL (fsync off)
    DATABASE_URL=postgresql://... python -m bench.audit
    python -m bench.audit --events 200000 --histories 200    # shorter

Compliance check (issue 12): a fresh database is filled with `--events` events (1,000,000) of
process streams, mostly articles and inquiries, some promotions and write-ups (3 to 16 events a
stream, 8 on average), each played through its own decider (`decide`, then `evolve`: the events the
workflows record; revisions, breaches, reopenings, late announcements among them) and appended in
one batch through the event store. The baseline is the work no
check can skip: the same rows, in the same order, by the same query through a server-side cursor in
a repeatable-read snapshot, each decoded (`REGISTRY.decode`) and folded with its process's
`evolve`. Ours is `audit.check.check_rules` over a period that holds everything. Goal: baseline /
check >= 0.5.

Replay: `--histories` rows (1,000) of the history archive, made of the recorded histories of
tests/replay (each under its own workflow id, which the workflows check, and a run id of its own).
The baseline is temporalio's bare `Replayer(...).replay_workflows` over the same histories already
in memory; ours is `audit.replay.replay(histories_archived(pool))`, reading them from the archive
included. Goal: baseline / ours >= 0.8. Every history must replay.

Each side is measured `--rounds` times (2: baseline, ours, then ours, baseline), the side that goes
first alternating, and the median is kept (of two, the mean), so drift of the machine hits both. A
ratio below its goal is said, not an exit status. The last line printed is one JSON object;
progress goes to stderr. A full run takes about 6 minutes on 2 cores. The event store's own figures
(a projection rebuild against a raw scan) are bench/eventstore.py's.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from audit.archive import digest_of, history_binary, history_json
from audit.check import PROCESS_ROWS, Findings, Period, check_rules
from audit.replay import histories_archived, replay
from bench import migrated_database
from deploy.postgres import scratch_server
from domain import announcements as an
from domain import articles as a
from domain import inquiries as q
from domain import promotions as pr
from domain import writeups as wu
from domain.calendar import calendar_for, inquiry_due
from domain.commands import Actor
from domain.decider import Decider
from domain.events import REGISTRY, DomainEvent
from domain.outcomes import PublishOutcome, ReplyOutcome
from domain.platforms import ALL_PLATFORMS, Platform
from domain.policy import Policy
from domain.roles import Role
from domain.rules import RuleId
from eventstore.db import Conn, create_pool
from eventstore.store import NO_STREAM, EventStore, NewEvent
from mediaops.temporal import data_converter
from tests.replay.keys import REPLAY_KEYS
from tests.replay.test_replay import HISTORIES, history
from workers.worker import WORKFLOWS

EVENTS = 1_000_000
HISTORY_ROWS = 1000
ROUNDS = 2
CHECK_GOAL = 0.5
REPLAY_GOAL = 0.8
PREFETCH = 5000
"""The check's own cursor prefetch (audit/check.py): the baseline reads the same way."""
WRITERS = 8
TEMPLATES = 600
"""Distinct process histories decided per kind; each stream is one of them under its own id."""
MIX = (("article", 0.45), ("inquiry", 0.43), ("promotion", 0.06), ("writeup", 0.06))
"""The share of each process among the streams."""

POLICY = Policy()
CALENDAR = calendar_for(POLICY)
DECIDERS: dict[str, Decider[Any]] = {
    "article-": a.ARTICLES,
    "inquiry-": q.INQUIRIES,
    "promotion-": pr.PROMOTIONS,
    "writeup-": wu.WRITEUPS,
}
SCAN = PROCESS_ROWS
"""audit/check.py's query, as written there."""
HORIZON = datetime(2100, 1, 1, tzinfo=UTC)
"""The check's own bound (what was recorded before its period's end), far enough to take everything."""

WRITER = Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
PROMOTER = Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
MANAGER = Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
BOSS = Actor(id="chen.gm", roles=frozenset({Role.GENERAL_MANAGER}))
EPOCH = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
SPAN_DAYS = 360
PARAGRAPHS = (
    "<p>本周我们在上海举办了秋季新品发布会，来自全国各地的合作伙伴齐聚一堂，共同见证了新一代产品的发布。</p>",
    "<p>发布会上，产品团队详细介绍了新品在性能、能耗与易用性方面的改进，并现场演示了多个典型应用场景。</p>",
    "<p>活动期间，客户代表分享了使用体验，技术专家解答了关于安装、维护与售后服务的常见问题。</p>",
    '<p><img src="https://cdn.example.com/2025/launch-01.jpg" alt="发布会现场"></p>',
    "<p>如需了解更多详情，欢迎关注我们的公众号或致电客服热线，我们将竭诚为您服务。</p>",
)
QUESTIONS = (
    "请问营业时间？",
    "你们的新品什么时候开售？",
    "售后电话是多少？",
    "可以开发票吗？",
    "发货大概要几天？",
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the process histories: each decided command by command, as the workflows do ---------------


class Played:
    """One process played through its decider: its state, and every event its commands caused."""

    def __init__(self, decider: Decider[Any]) -> None:
        self.decider = decider
        self.state: Any = decider.initial()
        self.events: list[DomainEvent] = []

    def do(self, command: BaseModel) -> None:
        for event in self.decider.decide(command, self.state, POLICY):
            self.took(event)

    def took(self, event: DomainEvent) -> None:
        self.state = self.decider.evolve(self.state, event)
        self.events.append(event)


def moment(rng: random.Random) -> datetime:
    return EPOCH + timedelta(days=rng.uniform(0, SPAN_DAYS))


def platforms(rng: random.Random, low: int, high: int) -> tuple[Platform, ...]:
    return tuple(rng.sample(ALL_PLATFORMS, rng.randint(low, high)))


def content(rng: random.Random, *, category: a.Category | None = None) -> a.Content:
    body = "".join(rng.sample(PARAGRAPHS, rng.randint(2, len(PARAGRAPHS))))
    return a.Content(
        title=f"秋季新品发布会回顾（第{rng.randint(1, 99)}期）",
        body=body,
        category=category or rng.choice(["news", "industry_news", "know_how", "recruitment", "company_news"]),
        involves_company_project=rng.random() < 0.15,
        platforms=platforms(rng, 2, 4),
        source="市场部",
        editor=WRITER.id,
    )


def article(key: str, rng: random.Random) -> list[DomainEvent]:
    """Submitted, checked, reviewed (sometimes revised first, or closed), approved, published."""
    p, at = Played(a.ARTICLES), moment(rng)
    p.do(a.Submit(article_id=key, actor=WRITER, content=content(rng), at=at))
    version = 1
    if rng.random() < 0.03:
        problem = a.Problem(rule=RuleId.LAWFUL, message="含有违禁词：最")
        p.do(a.RecordChecks(version=1, wordlist_version="2025.03", problems=[problem], at=at))
        version += 1
        p.do(a.Revise(actor=WRITER, version=1, content=content(rng), at=at + timedelta(hours=1)))
        at += timedelta(hours=1)
    p.do(a.RecordChecks(version=version, wordlist_version="2025.03", problems=[], at=at))
    at += timedelta(hours=rng.uniform(0.5, 20))
    if rng.random() < 0.1:
        p.do(a.Remind(role=Role.OPERATIONS_MANAGER, at=at))
        at += timedelta(hours=2)
    if rng.random() < 0.15:
        asked = a.Review(
            actor=MANAGER, version=version, decision="request_changes", comment="标题再短一些", at=at
        )
        p.do(asked)
        at += timedelta(hours=rng.uniform(1, 24))
        p.do(a.Revise(actor=WRITER, version=version, content=content(rng), at=at))
        version += 1
        p.do(a.RecordChecks(version=version, wordlist_version="2025.03", problems=[], at=at))
        at += timedelta(hours=rng.uniform(0.5, 8))
    roll = rng.random()
    if roll < 0.03:
        p.do(a.Review(actor=MANAGER, version=version, decision="reject", comment="不宜发布", at=at))
        return p.events
    if roll < 0.05:
        p.do(a.Withdraw(actor=WRITER, reason="活动取消", at=at))
        return p.events
    p.do(a.Review(actor=MANAGER, version=version, decision="approve", at=at))
    if p.state.waiting_on is Role.GENERAL_MANAGER:
        at += timedelta(hours=rng.uniform(1, 12))
        p.do(a.Confirm(actor=BOSS, version=version, at=at))
    p.do(a.StartPublishing(at=at))
    for platform in p.state.publications:
        at += timedelta(seconds=rng.uniform(1, 30))
        url = f"https://{platform}.example.com/p/{key}"
        if rng.random() < 0.03:
            p.do(a.RecordOutcome(platform=platform, outcome=PublishOutcome(state="unknown"), at=at))
            at += timedelta(hours=1)
            p.do(a.Reconcile(actor=MANAGER, platform=platform, url=url, at=at))
        else:
            out = PublishOutcome(state="published", url=url, platform_ids={"post": key})
            p.do(a.RecordOutcome(platform=platform, outcome=out, at=at))
    return p.events


def answered_after(rng: random.Random) -> timedelta:
    """Most within 10 hours, some after the warning, a few after the 12-hour deadline."""
    roll = rng.random()
    if roll < 0.8:
        return timedelta(hours=rng.uniform(0.2, 9.5))
    if roll < 0.93:
        return timedelta(hours=rng.uniform(10.2, 11.9))
    return timedelta(hours=rng.uniform(12.5, 20))


def published_at(rng: random.Random, start: datetime, deadline: datetime, *, late: bool) -> datetime:
    """When an announcement came out: in time (between `start` and the deadline), or late."""
    if late:
        return deadline + timedelta(hours=rng.uniform(1, 30))
    return start + (deadline - start) * rng.uniform(0.1, 0.95)


def inquiry(key: str, rng: random.Random) -> list[DomainEvent]:
    """Received, its clock started, sometimes assigned, warned or breached, answered, closed; some
    users write again (a follow-up, or a reopening with a new clock), a few are spam."""
    p, sent = Played(q.INQUIRIES), moment(rng)
    platform = rng.choice((Platform.WECHAT, Platform.WECHAT, Platform.WEIBO, Platform.ZHIHU))
    detected = sent + timedelta(seconds=rng.uniform(1, 60))
    text = rng.choice(QUESTIONS)
    p.took(
        q.InquiryReceived(
            platform=platform,
            account="demo",
            message_id=key,
            user=f"o_{key}",
            text=text,
            sent_at=sent,
            detected_at=detected,
        )
    )
    p.do(q.StartSla(deadline=inquiry_due(sent, POLICY, CALENDAR)[0]))
    at = sent + timedelta(minutes=rng.uniform(1, 30))
    if rng.random() < 0.3:
        p.do(q.Assign(actor=MANAGER, assignee=WRITER.id, at=at))
    if rng.random() < 0.2:
        p.do(q.UserWrote(message_id=f"{key}f", text="在吗？", sent_at=at + timedelta(minutes=5)))
    if rng.random() < 0.04:
        p.do(q.Close(actor=MANAGER, reason="spam", at=at + timedelta(minutes=10)))
        return p.events
    if rng.random() < 0.08:
        p.do(q.Escalate(actor=WRITER, reason="用户投诉产品质量", at=at + timedelta(minutes=20)))
    answered = sent + answered_after(rng)
    state: q.Inquiry = p.state
    for due in (state.warn_at, state.deadline):
        if due is not None and due <= answered:
            p.do(q.Tick(at=due))
    reply = "您好，已为您转交相关同事，我们会尽快处理。"
    p.do(q.Reply(actor=WRITER, text=reply, at=answered))
    if rng.random() < 0.05:
        refused = ReplyOutcome(state="failed", code="45015", reason="response out of time limit")
        p.do(q.RecordReply(actor=WRITER, text=reply, outcome=refused, at=answered))
        answered += timedelta(minutes=5)
    p.do(q.RecordReply(actor=WRITER, text=reply, outcome=ReplyOutcome(state="sent"), at=answered))
    p.do(q.Close(actor=WRITER, reason="answered", at=answered + timedelta(minutes=1)))
    if rng.random() < 0.2:
        again = answered + timedelta(hours=rng.uniform(1, 20))
        due = inquiry_due(again, POLICY, CALENDAR)[0]
        p.do(q.UserWrote(message_id=f"{key}r", text="还有一个问题。", sent_at=again, deadline=due))
        later = again + timedelta(hours=rng.uniform(0.2, 6))
        p.do(q.RecordReply(actor=WRITER, text=reply, outcome=ReplyOutcome(state="sent"), at=later))
        p.do(q.Close(actor=WRITER, reason="answered", at=later + timedelta(minutes=1)))
    return p.events


def promotion(key: str, rng: random.Random) -> list[DomainEvent]:
    """Planned, its announcement linked, reminded, published on each platform (some late), judged."""
    p, at = Played(pr.PROMOTIONS), moment(rng)
    starts = at + timedelta(days=rng.uniform(8, 20))
    on = platforms(rng, 2, 5)
    ends, major = starts + timedelta(days=3), rng.random() < 0.8
    p.do(
        pr.Plan(
            actor=PROMOTER,
            promotion_id=f"promotion-{key}",
            name="双十二大促",
            starts_at=starts,
            ends_at=ends,
            major=major,
            platforms=on,
            at=at,
        )
    )
    article_id = f"promo-{key}"
    p.do(
        an.Progress(
            article_id=article_id, platforms=on, stage="waiting_on_manager", at=at + timedelta(days=1)
        )
    )
    if rng.random() < 0.05:
        p.do(pr.Cancel(actor=PROMOTER, reason="活动取消", at=at + timedelta(days=2)))
        return p.events
    state: pr.Promotion = p.state
    deadline = state.announce_by
    assert deadline is not None  # noqa: S101 - planned
    late = rng.random() < 0.15
    when: list[tuple[datetime, BaseModel]] = [
        (starts - before, an.Tick(at=starts - before)) for before in POLICY.promo_remind.before_start
    ]
    when.append((deadline, an.Tick(at=deadline)))
    for i, platform in enumerate(on):
        out = published_at(rng, at + timedelta(days=1), deadline, late=late and i == 0)
        when.append((out, an.Published(article_id=article_id, platform=platform, published_at=out)))
    for _, command in sorted(when, key=lambda w: w[0]):
        p.do(command)
    return p.events


def writeup(key: str, rng: random.Random) -> list[DomainEvent]:
    """Reported, its due time set from the calendar, linked, published (some late), judged."""
    p, ends = Played(wu.WRITEUPS), moment(rng)
    on = platforms(rng, 2, 5)
    p.do(
        wu.Report(
            actor=WRITER,
            writeup_id=f"writeup-{key}",
            name="秋季新品发布会",
            ends_at=ends,
            platforms=on,
            at=ends,
        )
    )
    calendar, end_of_day = CALENDAR, POLICY.event_day_end.at
    due = calendar.working_days_deadline(ends, POLICY.news_3wd.within_working_days, end_of_day, POLICY.zone)
    remind = calendar.working_days_deadline(
        ends, POLICY.news_remind.after_working_days, end_of_day, POLICY.zone
    )
    p.do(wu.SetDue(ends_at=ends, due=due, remind_at=remind))
    article_id = f"news-{key}"
    p.do(an.Progress(article_id=article_id, platforms=on, stage="drafting", at=ends + timedelta(hours=2)))
    late = rng.random() < 0.15
    when: list[tuple[datetime, BaseModel]] = [(remind, an.Tick(at=remind)), (due, an.Tick(at=due))]
    for i, platform in enumerate(on):
        out = published_at(rng, ends + timedelta(hours=2), due, late=late and i == 0)
        when.append((out, an.Published(article_id=article_id, platform=platform, published_at=out)))
    for _, command in sorted(when, key=lambda w: w[0]):
        p.do(command)
    return p.events


SCENARIOS: dict[str, Callable[[str, random.Random], list[DomainEvent]]] = {
    "article": article,
    "inquiry": inquiry,
    "promotion": promotion,
    "writeup": writeup,
}
RULES = {
    "article": ["R-REVIEW-ALL", "R-ACCOUNTABLE"],
    "inquiry": ["R-INQUIRY-12H"],
    "promotion": ["R-PROMO-3D"],
    "writeup": ["R-NEWS-3WD"],
}
POLICY_DIGEST = "5f1c0e0d9a6b4e1f8c2d7b3a6e9f0c1d2b3a4e5f6a7b8c9d0e1f2a3b4c5d6e7f"
KEY_FIELD = {
    "article.submitted": ("article_id", "{key}"),
    "inquiry.received": ("message_id", "{key}"),
    "promotion.planned": ("promotion_id", "promotion-{key}"),
    "writeup.reported": ("writeup_id", "writeup-{key}"),
}
"""Where a process's first event names it: a stream made from a template is renamed there."""


def stream_id(kind: str, key: str) -> str:
    return f"inquiry-wechat-{key}" if kind == "inquiry" else f"{kind}-{key}"


@dataclass(frozen=True)
class Template:
    """A decided process history, as the rows its events are stored as (type, data, version)."""

    kind: str
    rows: tuple[tuple[str, dict[str, Any], int], ...]


def templates(per_kind: int, seed: int) -> dict[str, list[Template]]:
    rng = random.Random(seed)
    made: dict[str, list[Template]] = {}
    for kind, scenario in SCENARIOS.items():
        made[kind] = []
        for n in range(per_kind):
            events = scenario(f"t{n}", rng)
            rows = tuple((e.type, e.payload(), e.SCHEMA_VERSION) for e in events)
            made[kind].append(Template(kind, rows))
    return made


def metadata(kind: str, stream: str, run_id: str, event_type: str) -> dict[str, Any]:
    """What activities/eventstore.py stores with each event: the cause, the run, the rules."""
    return {
        "actor": WRITER.id if event_type.endswith(("submitted", "revised")) else "mediaops",
        "workflow_id": stream,
        "run_id": run_id,
        "rule_ids": RULES[kind],
        "policy": POLICY_DIGEST,
    }


def streams(made: dict[str, list[Template]], events: int, seed: int) -> Iterable[tuple[str, list[NewEvent]]]:
    """Whole streams until there are `events` events or a few more: each a template under its own
    key, with its own event ids and run (a stream cut short would be judged as a breach)."""
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    run = uuid.uuid4().hex[:6]
    total, n = 0, 0
    while total < events:
        kind = rng.choices(kinds, weights)[0]
        template = rng.choice(made[kind])
        key = f"b{run}{n:07d}"
        stream, run_id = stream_id(kind, key), str(uuid.uuid4())
        batch = []
        for event_type, data, version in template.rows:
            named = KEY_FIELD.get(event_type)
            if named is not None:
                data = {**data, named[0]: named[1].format(key=key)}
            meta = metadata(kind, stream, run_id, event_type)
            batch.append(NewEvent(uuid.uuid4(), event_type, data, meta, version))
        total, n = total + len(batch), n + 1
        yield stream, batch


async def fill(store: EventStore, made: dict[str, list[Template]], events: int) -> tuple[int, int]:
    """Each stream appended in one batch, as a new stream, by `WRITERS` concurrent writers."""
    source = iter(streams(made, events, seed=7))
    count = [0, 0]
    started = time.perf_counter()

    async def writer() -> None:
        async with store.pool.acquire() as conn:
            for stream, batch in source:
                await store.append(stream, NO_STREAM, batch, conn=conn)
                count[0] += 1
                count[1] += len(batch)
                if count[0] % 20_000 == 0:
                    rate = count[1] / (time.perf_counter() - started)
                    say(f"    {count[1]:,} events in {count[0]:,} streams ({rate:,.0f} events/s)")

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    return count[0], count[1]


# --- compliance check ---------------------------------------------------------------------------


async def scan_and_fold(conn: Conn) -> tuple[int, int]:
    """The baseline: every process event read, decoded and folded with its decider; nothing judged."""
    streams = events = 0
    current, state = "", None
    decider: Decider[Any] = a.ARTICLES
    decode = REGISTRY.decode
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        async for row in conn.cursor(SCAN, HORIZON, prefetch=PREFETCH):
            stream = row["stream_id"]
            if stream != current:
                current, streams = stream, streams + 1
                decider = DECIDERS[stream.split("-", 1)[0] + "-"]
                state = decider.initial()
            state = decider.evolve(state, decode(row["type"], row["schema_version"], row["data"]))
            events += 1
    return streams, events


async def alternating(
    baseline: Callable[[], Awaitable[object]], ours: Callable[[], Awaitable[object]], rounds: int, what: str
) -> tuple[float, float]:
    """The median seconds of each side over `rounds` rounds, the side that goes first alternating."""
    times: dict[str, list[float]] = {"baseline": [], "ours": []}
    for i in range(rounds):
        order = [("baseline", baseline), ("ours", ours)]
        for side, run in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            await run()
            times[side].append(time.perf_counter() - start)
        say(f"  {what} round {i + 1}: baseline {times['baseline'][-1]:.2f} s, ours {times['ours'][-1]:.2f} s")
    return statistics.median(times["baseline"]), statistics.median(times["ours"])


async def check_ratio(pool: asyncpg.Pool, store: EventStore, events: int, rounds: int) -> dict[str, Any]:
    say(f"compliance check: deciding {TEMPLATES} histories of each process ...")
    made = templates(TEMPLATES, seed=3)
    say(f"  filling the store with {events:,} events ...")
    started = time.perf_counter()
    streams, stored = await fill(store, made, events)
    say(f"  {stored:,} events in {streams:,} streams, in {time.perf_counter() - started:.0f} s")
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE events")
        everything = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        period = Period(start=everything[0], end=everything[1], as_of=everything[1])
        found: list[Findings] = []

        async def baseline() -> None:
            assert await scan_and_fold(conn) == (streams, stored)  # noqa: S101

        async def ours() -> None:
            findings = await check_rules(conn, period, POLICY)
            assert 0 < findings.streams <= streams  # noqa: S101 - it reads them all, and counts what it judged
            assert 0 < findings.events <= stored  # noqa: S101
            found.append(findings)

        raw, check = await alternating(baseline, ours, rounds, "check")
    findings = found[-1]
    judged = {str(r.rule): [r.checked, r.broken] for r in findings.rules if r.checked}
    say(f"  rules judged (checked, broken): {judged}; disagreements: {len(findings.disagreements)}")
    ratio = raw / check
    verdict = "PASS" if ratio >= CHECK_GOAL else "below goal"
    say(
        f"  check over {stored:,} events: scan+decode+fold {raw:.2f} s, check_rules {check:.2f} s: "
        f"ratio {ratio:.3f} (goal >= {CHECK_GOAL}) {verdict}"
    )
    return {
        "check_events": stored,
        "check_streams": streams,
        "check_baseline_s": round(raw, 3),
        "check_s": round(check, 3),
        "check_ratio": round(ratio, 3),
        "check_goal_met": ratio >= CHECK_GOAL,
    }


# --- replay -------------------------------------------------------------------------------------

_CLOSED = {
    "workflow_execution_completed_event_attributes": "COMPLETED",
    "workflow_execution_failed_event_attributes": "FAILED",
    "workflow_execution_canceled_event_attributes": "CANCELED",
    "workflow_execution_terminated_event_attributes": "TERMINATED",
    "workflow_execution_continued_as_new_event_attributes": "CONTINUED_AS_NEW",
    "workflow_execution_timed_out_event_attributes": "TIMED_OUT",
}


def _status(recorded: WorkflowHistory) -> str:
    """As `keep` spells a run's status: how its last event closed it."""
    return _CLOSED.get(recorded.events[-1].WhichOneof("attributes") or "", "UNSPECIFIED")


async def archive(pool: asyncpg.Pool, rows: int) -> list[WorkflowHistory]:
    """`rows` runs in the history archive, as audit/archive.py `keep` stores them; the same
    histories, as the archive rebuilds them, in the order it reads them back (close time)."""
    recorded = []
    for path in HISTORIES:
        fixture = history(path)
        text = history_json(fixture)
        first, last = fixture.events[0], fixture.events[-1]
        columns = (
            first.workflow_execution_started_event_attributes.workflow_type.name,
            _status(fixture),
            first.event_time.ToDatetime(tzinfo=UTC),
            last.event_time.ToDatetime(tzinfo=UTC),
            text,
            history_binary(fixture),
            digest_of(text),
        )
        recorded.append((fixture.workflow_id, fixture.run_id, columns))
    kept = []
    for i in range(rows):
        workflow_id, run_id, columns = recorded[i % len(recorded)]
        kept.append((workflow_id, f"{run_id}-{i:05d}", *columns))
    await pool.executemany(
        """INSERT INTO history_archive
             (workflow_id, run_id, workflow_type, status, started_at, closed_at, history, history_pb, digest)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        kept,
    )
    kept.sort(key=lambda r: (r[5], r[0], r[1]))
    return [WorkflowHistory.from_json(r[0], r[6]) for r in kept]


async def _each(histories: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for recorded in histories:
        yield recorded


async def replay_ratio(pool: asyncpg.Pool, rows: int, rounds: int) -> dict[str, Any]:
    say(f"replay: archiving {rows:,} histories ({len(HISTORIES)} recorded ones, each under many run ids) ...")
    in_memory = await archive(pool, rows)
    converter = data_converter(REPLAY_KEYS)
    await Replayer(workflows=list(WORKFLOWS), data_converter=converter).replay_workflows(
        _each(in_memory[: len(HISTORIES)])
    )  # warm: the sandbox's first imports are no one's cost

    async def baseline() -> None:
        replayer = Replayer(workflows=list(WORKFLOWS), data_converter=converter)
        results = await replayer.replay_workflows(_each(in_memory))
        assert not results.replay_failures  # noqa: S101 - and the first failure would have raised

    async def ours() -> None:
        results = await replay(histories_archived(pool, None, None), converter=converter)
        failed = [r for r in results if not r.ok]
        if len(results) != rows or failed:
            raise RuntimeError(f"{len(results)} replayed of {rows}; failed: {failed[:3]}")

    raw, ours_s = await alternating(baseline, ours, rounds, "replay")
    ratio = raw / ours_s
    verdict = "PASS" if ratio >= REPLAY_GOAL else "below goal"
    say(
        f"  replay of {rows:,} histories: bare Replayer {raw:.2f} s, audit replay from the archive "
        f"{ours_s:.2f} s: ratio {ratio:.3f} (goal >= {REPLAY_GOAL}) {verdict}"
    )
    return {
        "replay_histories": rows,
        "replay_baseline_s": round(raw, 3),
        "replay_s": round(ours_s, 3),
        "replay_ratio": round(ratio, 3),
        "replay_goal_met": ratio >= REPLAY_GOAL,
    }


async def run(server: str, events: int, histories: int, rounds: int) -> dict[str, Any]:
    async with migrated_database(server, "bench_audit") as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=WRITERS + 2)
        store = EventStore(pool)
        try:
            result: dict[str, Any] = {}
            if events:
                result |= await check_ratio(pool, store, events, rounds)
            if histories:
                result |= await replay_ratio(pool, histories, rounds)
            return result
        finally:
            await store.close()
            await pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events the check reads (0: skip it)")
    parser.add_argument(
        "--histories", type=int, default=HISTORY_ROWS, help="archived runs replayed (0: skip)"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each measurement (median kept)")
    args = parser.parse_args(argv)
    with scratch_server(os.environ.get("DATABASE_URL")) as server:
        result = asyncio.run(run(server, args.events, args.histories, max(1, args.rounds)))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
