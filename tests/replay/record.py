"""Record the workflows' reference histories into tests/replay/ (`python -m tests.replay.record`).

Run it when a workflow change is *meant* to change histories (behind `workflow.patched`, the old
histories must keep replaying; add the new ones beside them). Existing files are kept, since they
are the proof that runs from before a patch still replay; `--overwrite` replaces them. It uses a
scratch PostgreSQL, the fake platforms and the time-skipping dev server, like the tests.
"""

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from deploy.postgres import scratch_server
from deploy.processes import venv_bin
from domain import articles as a
from domain import cadence as cd
from domain import department as dep
from domain import inquiries as q
from domain import promotions as pr
from domain import writeups as wu
from domain.outcomes import PublishOutcome
from domain.periods import containing
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Role
from eventstore.db import connect, create_pool, ensure_database, with_database
from eventstore.migrate import migrate
from eventstore.store import EventStore, NewEvent
from mediaops.settings import Settings
from mediaops.temporal import data_converter
from tests.identity_support import in_directory, intake_proof, signed, user_wrote
from tests.platforms_support import Fakes, running_fakes
from tests.replay.keys import RECORDING_KEYS
from workers.worker import build_worker, platform_workers
from workflows import search_attributes
from workflows.article import ArticleWorkflow
from workflows.cadence import CadenceWorkflow
from workflows.contracts import (
    ArticleStart,
    ArticleView,
    CadenceStart,
    DepartmentStart,
    InquiryStart,
    InquiryView,
    PromotionStart,
    ReportStart,
    WriteUpStart,
)
from workflows.department import DepartmentWorkflow
from workflows.inquiry import InquiryWorkflow
from workflows.promotion import PromotionWorkflow
from workflows.report import ReportWorkflow
from workflows.writeup import WriteUpWorkflow

HERE = Path(__file__).parent
BEIJING = ZoneInfo("Asia/Shanghai")
QUEUE = "replay-recording"
WRITER = a.Actor(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
BOSS = a.Actor(id="chen.gm", roles=frozenset({Role.GENERAL_MANAGER}))
Handle = WorkflowHandle[ArticleWorkflow, ArticleView]


async def until(handle: Handle, check: Callable[[ArticleView], bool]) -> ArticleView:
    for _ in range(300):
        view = await handle.query(ArticleWorkflow.state_and_decisions)
        if check(view):
            return view
        await asyncio.sleep(0.1)
    raise TimeoutError("the workflow never got there")


def waiting(role: Role) -> Callable[[ArticleView], bool]:
    return lambda v: v.article.waiting_on is role


async def happy(h: Handle, fakes: Fakes) -> None:
    await until(h, waiting(Role.OPERATIONS_MANAGER))
    await h.execute_update(
        ArticleWorkflow.review,
        signed(h.id, a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))),
    )


async def forged_then_signed(h: Handle, fakes: Fakes) -> None:
    """A forged decision signal (refused and recorded), then the manager's signed one from ops."""
    await until(h, waiting(Role.OPERATIONS_MANAGER))
    forged = {
        "kind": "review",
        "actor": {"id": "someone.forged", "roles": ["operations_manager"]},
        "decision": "approve",
        "version": 1,
        "at": "2026-12-01T16:00:00Z",
    }
    await h.signal("decision", forged)
    await until(h, lambda v: any(not d.accepted for d in v.decisions))
    review = a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))
    await h.signal("decision", signed(h.id, review, channel="ops"))


async def changes_then_revised(h: Handle, fakes: Fakes) -> None:
    await until(h, waiting(Role.OPERATIONS_MANAGER))
    now = datetime.now(UTC)
    await h.execute_update(
        ArticleWorkflow.review,
        signed(
            h.id, a.Review(actor=MANAGER, version=1, decision="request_changes", comment="补充来源", at=now)
        ),
    )
    view = await h.query(ArticleWorkflow.state_and_decisions)
    assert view.article.content is not None
    revised = view.article.content.model_copy(update={"source": "市场部 新闻稿"})
    await h.execute_update(
        ArticleWorkflow.revise, signed(h.id, a.Revise(actor=WRITER, version=1, content=revised, at=now))
    )
    await until(h, lambda v: v.article.waiting_on is Role.OPERATIONS_MANAGER and v.article.version == 2)
    await h.execute_update(
        ArticleWorkflow.review, signed(h.id, a.Review(actor=MANAGER, version=2, decision="approve", at=now))
    )


async def general_manager(h: Handle, fakes: Fakes) -> None:
    await happy(h, fakes)
    await until(h, waiting(Role.GENERAL_MANAGER))
    await h.execute_update(
        ArticleWorkflow.confirm, signed(h.id, a.Confirm(actor=BOSS, version=1, at=datetime.now(UTC)))
    )


async def unknown_reconciled(h: Handle, fakes: Fakes) -> None:
    await happy(h, fakes)
    await until(h, lambda v: v.article.publications[Platform.WEBSITE].state == "unconfirmed")
    await h.execute_update(
        ArticleWorkflow.reconcile,
        signed(
            h.id,
            a.Reconcile(
                actor=WRITER,
                platform=Platform.WEBSITE,
                url="https://www.example.com/?p=9",
                at=datetime.now(UTC),
            ),
        ),
    )


INQUIRY_STAFF = q.Responder(id="li.content", roles=frozenset({Role.CONTENT_SPECIALIST}))
INQUIRY_MANAGER = q.Responder(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
InquiryHandle = WorkflowHandle[InquiryWorkflow, InquiryView]


async def answered_within_sla(env: WorkflowEnvironment, h: InquiryHandle) -> None:
    await env.fast_forward(h, timedelta(hours=1))  # type: ignore[attr-defined]
    await h.execute_update(
        InquiryWorkflow.reply, signed(h.id, q.Reply(actor=INQUIRY_STAFF, text="九点开门。", at=NOW))
    )
    await env.fast_forward(h, Policy().inquiry_12h.reopen_within)  # type: ignore[attr-defined]


async def breached_then_answered(env: WorkflowEnvironment, h: InquiryHandle) -> None:
    await env.fast_forward(h, timedelta(hours=13))  # type: ignore[attr-defined]
    await h.execute_update(
        InquiryWorkflow.reply, signed(h.id, q.Reply(actor=INQUIRY_STAFF, text="九点开门。", at=NOW))
    )
    await env.fast_forward(h, Policy().inquiry_12h.reopen_within)  # type: ignore[attr-defined]


async def closed_as_spam(env: WorkflowEnvironment, h: InquiryHandle) -> None:
    await h.execute_update(
        InquiryWorkflow.close, signed(h.id, q.Close(actor=INQUIRY_MANAGER, reason="spam", at=NOW))
    )


async def reopened(env: WorkflowEnvironment, h: InquiryHandle) -> None:
    """Answered, then the user writes again: a new clock, a second answer, and the end a day later."""
    first = await h.execute_update(
        InquiryWorkflow.reply, signed(h.id, q.Reply(actor=INQUIRY_STAFF, text="九点开门。", at=NOW))
    )
    assert first.inquiry.answered_at is not None
    await env.fast_forward(h, timedelta(hours=2))  # type: ignore[attr-defined]
    again = first.inquiry.answered_at + timedelta(hours=2)
    follow_up = q.Message(message_id="again", text="周日呢？", sent_at=again)
    await h.signal(InquiryWorkflow.user_wrote, user_wrote(h.id, follow_up))
    for _ in range(100):  # the follow-up is taken once the workflow has asked for the new deadline
        if (await h.query(InquiryWorkflow.current)).inquiry.reopened:
            break
        await asyncio.sleep(0.1)
    await h.execute_update(
        InquiryWorkflow.reply, signed(h.id, q.Reply(actor=INQUIRY_STAFF, text="周日也开。", at=NOW))
    )
    await env.fast_forward(h, Policy().inquiry_12h.reopen_within)  # type: ignore[attr-defined]


NOW = datetime.now(UTC)
INQUIRY_SCENARIOS: dict[str, Callable[[WorkflowEnvironment, InquiryHandle], Awaitable[None]]] = {
    "inquiry_answered_within_sla": answered_within_sla,
    "inquiry_breached_then_answered": breached_then_answered,
    "inquiry_closed_as_spam": closed_as_spam,
    "inquiry_reopened": reopened,
    "inquiry_signed_reply": answered_within_sla,
    "inquiry_local_steps": reopened,
}


PROMOTER = a.Actor(id="zhao.promo", roles=frozenset({Role.PROMOTION_SPECIALIST}))
Obligation = WorkflowHandle[Any, Any]


def key_of(name: str) -> str:
    """A scenario's promotion or write-up key (tests/replay/test_replay.py derives the same)."""
    return name.split("_", 1)[1].replace("_", "-")


async def linked_article(env: WorkflowEnvironment, fakes: Fakes, article_id: str, **link: str) -> Handle:
    """An announcement (or write-up) article on the website, approved and published."""
    content = a.Content(
        title="双十二大促预告",
        body=f'<p>十二月十二日起全场八折。</p><img src="{fakes.image()}">',
        category="promotion",
        platforms=(Platform.WEBSITE,),
        source="市场部",
    )
    submit = a.Submit(article_id=article_id, actor=WRITER, content=content, at=datetime.now(UTC), **link)
    handle = await env.client.start_workflow(
        ArticleWorkflow.run,
        ArticleStart(submit=signed(f"article-{article_id}", submit), accounts={Platform.WEBSITE: "demo"}),
        id=f"article-{article_id}",
        task_queue=QUEUE,
    )
    await happy(handle, fakes)
    await handle.result()
    return handle


async def plan(env: WorkflowEnvironment, name: str) -> Obligation:
    key, starts = key_of(name), datetime.now(UTC) + timedelta(days=10)
    command = pr.Plan(
        actor=PROMOTER,
        promotion_id=key,
        name="双十二大促",
        starts_at=starts,
        ends_at=starts + timedelta(days=2),
        major=True,
        platforms=(Platform.WEBSITE,),
        at=datetime.now(UTC),
    )
    return await env.client.start_workflow(
        PromotionWorkflow.run,
        PromotionStart(plan=signed(f"promotion-{key}", command)),
        id=f"promotion-{key}",
        task_queue=QUEUE,
    )


async def report(env: WorkflowEnvironment, name: str) -> Obligation:
    key = key_of(name)
    command = wu.Report(
        actor=WRITER,
        writeup_id=key,
        name="秋季新品发布会",
        ends_at=datetime.now(UTC),
        platforms=(Platform.WEBSITE,),
        at=datetime.now(UTC),
    )
    return await env.client.start_workflow(
        WriteUpWorkflow.run,
        WriteUpStart(report=signed(f"writeup-{key}", command)),
        id=f"writeup-{key}",
        task_queue=QUEUE,
    )


async def record_obligations(env: WorkflowEnvironment, fakes: Fakes) -> None:
    """Promotions and write-ups met, breached, rescheduled, cancelled and corrected; and an article
    that wakes the promotion it announces."""
    await linked_article(env, fakes, "for-met", promotion_id=key_of("promotion_met"))
    for name in ("promotion_met", "promotion_breached"):
        handle = await plan(env, name)
        await handle.result()
        save(name, await handle.fetch_history())

    with env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        handle = await plan(env, "promotion_rescheduled")
    article = await linked_article(
        env, fakes, "article-linked-to-promotion", promotion_id=key_of("promotion_rescheduled")
    )
    save("article_linked_to_promotion", await article.fetch_history())
    view = await handle.query(PromotionWorkflow.current)
    assert view.promotion.starts_at is not None
    later = view.promotion.starts_at + timedelta(days=5)
    moved = pr.Reschedule(
        actor=PROMOTER, starts_at=later, ends_at=later + timedelta(days=2), at=datetime.now(UTC)
    )
    await handle.execute_update(PromotionWorkflow.reschedule, signed(handle.id, moved))
    await env.fast_forward(handle, timedelta(days=20))  # type: ignore[attr-defined]
    await handle.result()
    save("promotion_rescheduled", await handle.fetch_history())

    await linked_article(env, fakes, "for-cancelled", promotion_id=key_of("promotion_cancelled"))
    with env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        handle = await plan(env, "promotion_cancelled")
    for _ in range(100):  # the announcement already out is read before it is called off
        website = (await handle.query(PromotionWorkflow.current)).promotion.platforms.get(Platform.WEBSITE)
        if website is not None and website.announced_at is not None:
            break
        await asyncio.sleep(0.1)
    cancel = pr.Cancel(actor=PROMOTER, reason="场地取消", at=datetime.now(UTC))
    await handle.execute_update(PromotionWorkflow.cancel, signed(handle.id, cancel))
    await env.fast_forward(handle, timedelta(days=15))  # type: ignore[attr-defined]  # watched until it ends
    await handle.result()
    save("promotion_cancelled", await handle.fetch_history())

    await linked_article(env, fakes, "for-writeup", writeup_id=key_of("writeup_met"))
    for name in ("writeup_met", "writeup_breached"):
        handle = await report(env, name)
        await handle.result()
        save(name, await handle.fetch_history())
    with env.with_time_skipping_disabled():  # type: ignore[attr-defined]
        handle = await report(env, "writeup_corrected")
    for _ in range(100):
        if (await handle.query(WriteUpWorkflow.current)).writeup.due is not None:
            break
        await asyncio.sleep(0.1)
    correct = wu.CorrectEnd(actor=WRITER, ends_at=datetime.now(UTC) - timedelta(days=1), at=datetime.now(UTC))
    await handle.execute_update(WriteUpWorkflow.correct_end, signed(handle.id, correct))
    await env.fast_forward(handle, timedelta(days=40))  # type: ignore[attr-defined]
    await handle.result()
    save("writeup_corrected", await handle.fetch_history())


async def record_meetings(env: WorkflowEnvironment, store: EventStore) -> None:
    """A website week missed with two posts, the register taking an owner and an action item, and
    a weekly report made from the fakes' figures."""
    register = await env.client.start_workflow(
        DepartmentWorkflow.run, DepartmentStart(), id=dep.REGISTER_ID, task_queue=QUEUE
    )
    week = containing("week", datetime.now(UTC), BEIJING).following()
    assign = dep.AssignOwner(
        actor=MANAGER, subject="website", user=WRITER.id, starts_on=week.first, at=datetime.now(UTC)
    )
    await register.execute_update(DepartmentWorkflow.change, signed(dep.REGISTER_ID, assign))
    for day in (1, 3):
        at = datetime.combine(week.first + timedelta(days=day), datetime.min.time(), BEIJING) + timedelta(
            hours=10
        )
        await published_on(store, Platform.WEBSITE, at)
    website = next(s for s in cd.subjects(Policy()) if s.key == "website")
    handle = await env.client.start_workflow(
        CadenceWorkflow.run,
        CadenceStart(subject=website, first_day=week.first),
        id="cadence-website-missed",
        task_queue=QUEUE,
    )
    await handle.result()
    save("cadence_website_missed", await handle.fetch_history())

    last_week = containing("week", datetime.now(UTC), BEIJING).previous()
    made = await env.client.execute_workflow(
        ReportWorkflow.run,
        ReportStart(kind="weekly", period=last_week.key),
        id="report-weekly",
        task_queue=QUEUE,
    )
    report = await env.client.get_workflow_handle("report-weekly").fetch_history()
    save("report_weekly", report)
    action = dep.RecordAction(
        actor=MANAGER,
        action_id="a1",
        report_id=made.report_id or "",
        text="网站每周三篇",
        owner=WRITER.id,
        due=datetime.now(BEIJING).date() + timedelta(days=7),
        at=datetime.now(UTC),
    )
    await register.execute_update(DepartmentWorkflow.change, signed(dep.REGISTER_ID, action))
    save("department_register", await register.fetch_history())


async def published_on(store: EventStore, platform: Platform, at: datetime) -> None:
    """An article's submission and publication, as its workflow records them (the cadence reads these)."""
    article_id = uuid.uuid4().hex[:10]
    content = a.Content(title="周报", body="<p>本周动态</p>", category="news", platforms=(platform,))
    events = [
        a.Submitted(
            article_id=article_id,
            author=WRITER.id,
            version=1,
            content=content,
            content_hash=content.digest(),
            at=at - timedelta(hours=1),
        ),
        a.PublicationRecorded(
            version=1, platform=platform, outcome=PublishOutcome(state="published", url="https://x"), at=at
        ),
    ]
    drafts = [NewEvent(uuid.uuid4(), e.type, e.payload(), {"actor": "mediaops"}) for e in events]
    await store.append(f"article-{article_id}", 0, drafts)


def save(name: str, history: WorkflowHistory) -> None:
    """Write a new reference history; an existing one is kept (it may be from before a patch)."""
    path = HERE / f"{name}.json"
    if path.exists() and "--overwrite" not in sys.argv:
        print(f"kept {name}: it exists (pass --overwrite to replace it)")
        return
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    print(f"recorded {name}")


async def record_inquiries(dsn: str) -> None:
    """Each inquiry in its own time-skipping server: its clock is driven with fast_forward."""
    pool = await create_pool(dsn)
    store = EventStore(pool)
    for name, play in INQUIRY_SCENARIOS.items():
        env = await time_skipping()
        async with build_worker(env.client, Settings(task_queue=QUEUE), Policy(), store):
            now = datetime.now(UTC)
            received = q.InquiryReceived(
                platform="phone",
                account="demo",
                message_id=name,
                user="张先生",
                text="几点开门？",
                sent_at=now,
                detected_at=now,
            )
            with env.with_time_skipping_disabled():  # type: ignore[attr-defined]
                handle = await env.client.start_workflow(
                    InquiryWorkflow.run,
                    InquiryStart(received=received, proof=intake_proof(f"inquiry-{name}", received)),
                    id=f"inquiry-{name}",
                    task_queue=QUEUE,
                )
            await play(env, handle)
            await handle.result()
            save(name, await handle.fetch_history())
        await env.shutdown()
    await store.close()
    await pool.close()


async def time_skipping() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(venv_bin("temporal")),
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
        search_attributes=search_attributes.ALL,
        data_converter=data_converter(RECORDING_KEYS),
    )


SCENARIOS: dict[str, tuple[dict[str, Any], Callable[[Handle, Fakes], Awaitable[None]]]] = {
    "article_happy_path": ({}, happy),
    "article_changes_requested_then_revised": ({}, changes_then_revised),
    "article_general_manager": ({"involves_company_project": True}, general_manager),
    "article_unknown_outcome_reconciled": ({}, unknown_reconciled),
    "article_forged_then_signed": ({}, forged_then_signed),
    "article_local_steps": ({"involves_company_project": True}, general_manager),
}


async def record(server: str) -> None:
    dsn = with_database(server, f"replay_{uuid.uuid4().hex[:8]}")
    await ensure_database(dsn)
    conn = await connect(dsn)
    await migrate(conn)
    await in_directory(conn, WRITER, MANAGER, BOSS, PROMOTER, INQUIRY_STAFF, INQUIRY_MANAGER)
    await conn.close()
    if "--inquiries-only" in sys.argv:
        await record_inquiries(dsn)
        return
    env = await time_skipping()
    pool = await create_pool(dsn)
    store = EventStore(pool)
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        for worker in [
            build_worker(env.client, Settings(task_queue=QUEUE), Policy(), store, accounts=fakes.accounts),
            *platform_workers(env.client, Policy(), fakes.accounts, pool),
        ]:
            await stack.enter_async_context(worker)
        if "--obligations-only" in sys.argv:
            await record_obligations(env, fakes)
            await env.shutdown()
            return
        if "--meetings-only" in sys.argv:
            await record_meetings(env, store)
            await env.shutdown()
            return
        for name, (changes, play) in SCENARIOS.items():
            if name == "article_unknown_outcome_reconciled":
                fault = {"path": "/wp-json/wp/v2/posts", "method": "POST", "kind": "timeout_after_accept"}
                await fakes.post(Platform.WEBSITE, "faults", fault)
            content = a.Content(
                title="秋季新品发布会回顾",
                body=f'<p>发布会圆满举行。</p><img src="{fakes.image()}">',
                category="company_news",
                platforms=(Platform.WEBSITE,),
                source="市场部",
                **changes,
            )
            article_id = name.replace("_", "-")
            submit = a.Submit(article_id=article_id, actor=WRITER, content=content, at=datetime.now(UTC))
            handle = await env.client.start_workflow(
                ArticleWorkflow.run,
                ArticleStart(
                    submit=signed(f"article-{article_id}", submit), accounts={Platform.WEBSITE: "demo"}
                ),
                id=f"article-{article_id}",
                task_queue=QUEUE,
            )
            await play(handle, fakes)
            await handle.result()
            save(name, await handle.fetch_history())
        await record_obligations(env, fakes)
        await record_meetings(env, store)
    await store.close()
    await pool.close()
    await env.shutdown()
    await record_inquiries(dsn)


def main() -> None:
    """Record with the fixture keys (tests/replay/keys.py), which the replay test decodes with."""
    with scratch_server(None) as server:
        asyncio.run(record(server))


if __name__ == "__main__":
    main()
