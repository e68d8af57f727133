"""Issue 10, must show 1 and 2: faults of the platforms, the worker, PostgreSQL and Temporal, on the
running stack (`mediaops up`), each ending with what the fake platform counts.

A publication whose answer is in doubt is posted exactly once: the fake counts 1, the article
waits for a person (unconfirmed), and once they reconcile it is published, still counted once.
"""

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from deploy.launch import stack_environment
from tests.e2e.stack_support import (
    RunningStack,
    api,
    bearer,
    cli,
    descendants,
    running_stack,
    wait_for,
    workers,
)

SUBMIT = "/cgi-bin/freepublish/submit"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(stack_environment(tmp_path_factory.mktemp("faults") / "state")) as running:
        yield running


def fakes(stack: RunningStack) -> str:
    return f"http://127.0.0.1:{stack.env['MEDIAOPS_FAKES_PORT']}"


def child(stack: RunningStack, matches: Callable[[list[str]], bool]) -> psutil.Process:
    """The one live child of the stack whose command line `matches` (a new one after a restart)."""

    def found() -> list[psutil.Process]:
        live = []
        for process in descendants(stack.process.pid):
            with contextlib.suppress(psutil.Error):
                if matches(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                    live.append(process)
        return live

    [one] = wait_for(found, "the process", within=60)  # type: ignore[misc]
    return one


def worker(stack: RunningStack) -> psutil.Process:
    [one] = wait_for(lambda: workers(stack), "the worker", within=60)  # type: ignore[misc]
    return one  # type: ignore[no-any-return]


def temporal_server(stack: RunningStack) -> psutil.Process:
    return child(stack, lambda cmd: "start-dev" in cmd)


def posted(stack: RunningStack, title: str) -> int:
    """How many times the fake WeChat made a post of this title public."""
    state = httpx.get(f"{fakes(stack)}/wechat/__fake__/state", timeout=10).json()
    return sum(1 for p in state["published"] if p["title"] == title)


class Article:
    """One article through the API: submitted by the writer, approved by the operations manager."""

    def __init__(self, stack: RunningStack, **extra: Any) -> None:
        self.stack = stack
        self.title = f"秋季活动预告 {uuid.uuid4().hex[:6]}"
        self.writer = bearer(stack.env, "content_specialist")
        body = {
            "title": self.title,
            "body": f'<p>秋季活动即将开始。</p><img src="{fakes(stack)}/assets/autumn.jpg">',
            "category": "news",
            "platforms": ["wechat"],
            "source": "市场部",
            **extra,
        }
        created = httpx.post(api(stack.env, "/articles"), json=body, headers=self.writer, timeout=60)
        assert created.status_code == 201, created.text
        self.url = api(stack.env, f"/articles/{created.json()['id']}")

    def approve(self) -> None:
        manager = bearer(self.stack.env, "operations_manager")
        approved = httpx.post(
            f"{self.url}/review", json={"decision": "approve", "version": 1}, headers=manager, timeout=60
        )
        assert approved.status_code == 200, approved.text

    def read(self) -> dict[str, Any]:
        answer = httpx.get(self.url, headers=self.writer, timeout=10)
        return answer.json() if answer.status_code == 200 else {}  # type: ignore[no-any-return]

    def wechat(self, state: str, within: float = 90) -> dict[str, Any]:
        return wait_for(  # type: ignore[return-value]
            lambda: (p := self.read().get("publications", {}).get("wechat")) and p["state"] == state and p,
            f"the WeChat publication to be {state}",
            within=within,
        )

    def reconcile(self, url: str) -> None:
        promoter = bearer(self.stack.env, "promotion_specialist")
        said = httpx.post(
            f"{self.url}/publications/wechat/reconcile", json={"url": url}, headers=promoter, timeout=60
        )
        assert said.status_code == 200, said.text
        wait_for(lambda: self.read().get("status") == "published", "published")


def fault(stack: RunningStack, **spec: Any) -> None:
    queued = httpx.post(f"{fakes(stack)}/wechat/__fake__/faults", json={"path": SUBMIT, **spec}, timeout=10)
    assert queued.status_code == 200, queued.text


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "html_after_accept", "status": 502},  # a gateway's 502 after WeChat did the work
        {"kind": "html_after_accept", "status": 200},  # an HTML page in place of the answer
        {"kind": "timeout_after_accept", "delay_s": 20},  # the answer comes after the client gave up
        {"kind": "unreadable_after_accept"},  # a 200 whose JSON we cannot parse
    ],
    ids=["502-after-processing", "html-answer", "timeout-after-acceptance", "parse-error"],
)
def test_a_publication_in_doubt_is_posted_once_and_a_person_reconciles_it(
    stack: RunningStack, spec: dict[str, Any]
) -> None:
    fault(stack, **spec)
    article = Article(stack)
    article.approve()
    unconfirmed = article.wechat("unconfirmed")
    assert unconfirmed["reason"]  # what is in doubt, for the person who checks WeChat
    assert posted(stack, article.title) == 1  # posted once, and not again by a retry
    article.reconcile("https://mp.weixin.qq.com/s/checked-by-hand")
    assert posted(stack, article.title) == 1


def wait_until_posted(stack: RunningStack, article: Article) -> None:
    wait_for(lambda: posted(stack, article.title) == 1, "WeChat to take the post", within=90)


def test_sigterm_of_the_worker_during_the_call_lets_it_finish(stack: RunningStack) -> None:
    """The worker drains: the call in flight gets its answer, the restarted worker goes on."""
    fault(stack, kind="timeout_after_accept", delay_s=4)  # the answer comes 4 s late, within the timeout
    article = Article(stack)
    before = worker(stack)
    article.approve()
    wait_until_posted(stack, article)
    before.send_signal(signal.SIGTERM)
    before.wait(timeout=60)  # drained, then stopped (not our child: its exit code is the stack's to see)
    assert worker(stack).pid != before.pid  # started again by `mediaops up`
    published = article.wechat("published", within=120)
    assert published["url"].startswith("https://mp.weixin.qq.com/s/fake_")
    assert posted(stack, article.title) == 1


def test_sigkill_of_the_worker_during_the_call_leaves_it_for_a_person(stack: RunningStack) -> None:
    """Killed mid-call: the restarted worker finds the call in doubt and never makes it again."""
    fault(stack, kind="timeout_after_accept", delay_s=10)
    article = Article(stack)
    before = worker(stack)
    article.approve()
    wait_until_posted(stack, article)
    before.kill()
    assert worker(stack).pid != before.pid
    unconfirmed = article.wechat("unconfirmed", within=120)  # once the heartbeat timeout has passed
    assert "interrupted" in unconfirmed["reason"]
    assert posted(stack, article.title) == 1
    article.reconcile("https://mp.weixin.qq.com/s/checked-by-hand")
    assert posted(stack, article.title) == 1


def inquiry(stack: RunningStack) -> str:
    staff = bearer(stack.env, "content_specialist")
    body = {
        "platform": "phone",
        "user": "张先生",
        "text": "几点开门？",
        "received_at": datetime.now(UTC).isoformat(),
    }
    created = httpx.post(api(stack.env, "/inquiries"), json=body, headers=staff, timeout=60)
    assert created.status_code in (201, 202), created.text
    return str(created.json()["id"])


def test_every_database_connection_cut_loses_nothing(stack: RunningStack) -> None:
    """pg_terminate_backend on every connection of the running system, then going on."""
    dsn = cli(stack.env, "dev", "dsn").stdout.strip()
    first = inquiry(stack)

    async def cut() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        finally:
            await conn.close()

    assert asyncio.run(cut()) > 0
    later = [inquiry(stack) for _ in range(3)]
    staff = bearer(stack.env, "content_specialist")

    def caught_up() -> bool:
        listed = httpx.get(api(stack.env, "/inquiries"), headers=staff, timeout=10)
        return listed.status_code == 200 and {first, *later} <= {i["id"] for i in listed.json()}

    wait_for(caught_up, "the consultation record to catch up", within=90)
    wait_for(lambda: httpx.get(api(stack.env, "/readyz")).json()["status"] == "ready", "ready", within=60)

    async def streams() -> dict[str, list[str]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT stream_id, type FROM events WHERE stream_id = ANY($1) "
                "ORDER BY stream_id, stream_version",
                [first, *later],
            )
        finally:
            await conn.close()
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["stream_id"], []).append(row["type"])
        return found

    recorded = asyncio.run(streams())
    assert set(recorded) == {first, *later}
    for types in recorded.values():
        assert types[:2] == ["inquiry.received", "inquiry.sla_started"]
    verified = cli(stack.env, "events", "verify")
    assert verified.returncode == 0, verified.stderr


def test_a_restarted_temporal_server_keeps_the_running_workflows_and_their_timers(
    stack: RunningStack,
) -> None:
    """Temporal restarted mid-run: a scheduled publication's timer still fires, once."""
    publish_at = datetime.now(UTC) + timedelta(seconds=45)
    article = Article(stack, publish_at=publish_at.isoformat())
    article.approve()
    server = temporal_server(stack)
    server.kill()
    server.wait(timeout=30)
    restarted = temporal_server(stack)
    assert restarted.pid != server.pid
    wait_for(lambda: httpx.get(api(stack.env, "/readyz")).json()["status"] == "ready", "ready", within=120)
    published = article.wechat("published", within=150)
    assert datetime.now(UTC) >= publish_at
    assert published["url"]
    assert posted(stack, article.title) == 1
    assert "starting it again" in stack.output()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # and it stays once
        assert posted(stack, article.title) == 1
        time.sleep(1)
