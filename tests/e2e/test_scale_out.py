"""Issue 15, must show 2 and 3: two workers and two APIs on one Temporal and one PostgreSQL.

`mediaops up` gives the first worker and API (and PostgreSQL, the dev server, the fakes); a second
worker and a second API are started beside them as a second machine would run them, with the same
settings. 500 WeChat followers write in; staff answer through both APIs; the second worker is
killed (SIGKILL, no drain) midway. Then:
- every inquiry is answered, and each follower received exactly one reply (at the fake), with
  exactly one `inquiry.replied` event: a reply the kill left in doubt is settled as a person would,
  by looking at the platform, never by sending again blindly;
- WeChat's API never saw more calls in any one second than the policy's rate: the limit is the task
  queue's, on the Temporal server, so it holds for both workers together (a reply is one call;
  the access token, fetched once per worker and cached for two hours, is not counted);
- both workers took part, and `mediaops_inquiries_open` on the workers' /metrics rose by 500 as the
  inquiries opened and fell back as they were answered.
"""

import asyncio
import contextlib
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.launch import CLI, stack_environment
from deploy.processes import free_port
from tests.e2e.stack_support import RunningStack, bearer, cli, running_stack

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

N = 500
RATE = 50
"""WeChat's calls per second in this test's policy (at the default 5, the test would mostly wait)."""
CONCURRENCY = 40
APPID = "wxdemo0000000001"
KILL_AFTER = N // 3
"""Replies delivered before the second worker is killed."""
WITHIN_S = 240.0
REPLY = {"text": "您好，九点开门。"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    folder = tmp_path_factory.mktemp("scale")
    policy = folder / "policy.toml"
    policy.write_text(f"[R-ACCOUNTS]\ncalls_per_second = {{ wechat = {RATE} }}\n", encoding="utf-8")
    env = stack_environment(folder / "state", MEDIAOPS_POLICY_FILE=str(policy), MEDIAOPS_LOG_LEVEL="warning")
    with running_stack(env) as running:
        yield running


class Extra:
    """A second worker or API, started as `mediaops up` starts its own, with its own ports."""

    def __init__(self, stack: RunningStack, command: str, **env: str) -> None:
        home = Path(stack.env["MEDIAOPS_HOME"]).resolve()
        self.ops_port = free_port()
        environment = {
            **stack.env,
            "MEDIAOPS_HOME": str(home),
            "TEMPORAL_ADDRESS": stack.temporal,
            "MEDIAOPS_ACCOUNTS_FILE": str(home / "accounts.toml"),
            "MEDIAOPS_METRICS_ADDRESS": f"127.0.0.1:{self.ops_port}",
            **env,
        }
        self.log = (home.parent / f"{command}-2.log").open("ab")
        self.process = subprocess.Popen(
            [*CLI, command], env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(70)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus exposition (0 when it is not there)."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        found = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if found is None:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(found.group(2))
    return 0.0


async def scrape(http: httpx.AsyncClient, port: int | str) -> str:
    return (await http.get(f"http://127.0.0.1:{port}/metrics")).text


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = WITHIN_S) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def bounded(items: list[Any], work: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Any) -> Any:
        async with gate:
            return await work(item)

    return await asyncio.gather(*(one(i) for i in items))


def busiest_second(times: list[float]) -> int:
    """The most calls that arrived within any one second (a sliding window, not clock seconds)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_two_workers_and_two_apis_answer_each_inquiry_once_within_the_rate(stack: RunningStack) -> None:
    env = stack.env
    second_api_port = free_port()
    worker_b = Extra(stack, "worker")
    api_b = Extra(stack, "api", MEDIAOPS_API_PORT=str(second_api_port))
    apis = [stack.url(""), f"http://127.0.0.1:{second_api_port}"]
    ops_a = env["MEDIAOPS_WORKER_OPS_PORT"]
    headers = bearer(env, "content_specialist")
    try:
        async with httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=2 * CONCURRENCY)
        ) as http:

            async def ready(url: str) -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get(url, timeout=3)).status_code == 200
                return False

            await until(lambda: ready(f"{apis[1]}/readyz"), "the second API", 60)
            await until(
                lambda: ready(f"http://127.0.0.1:{worker_b.ops_port}/readyz"), "the second worker", 60
            )
            before = metric(await scrape(http, ops_a), "mediaops_inquiries_open", platform="wechat")

            run = uuid.uuid4().int % 10**9
            msg_ids = [str(run * 1000 + i) for i in range(N)]

            async def write_in(msg_id: str) -> None:
                body = {"appid": APPID, "openid": f"o_{msg_id}", "text": "请问营业时间？", "msg_id": msg_id}
                pushed = (await http.post(f"{stack.fakes}/wechat/__fake__/user-message", json=body)).json()
                assert pushed["body"] == "success", pushed

            await bounded(msg_ids, write_in)

            async def all_open() -> bool:
                text = await scrape(http, worker_b.ops_port)
                return metric(text, "mediaops_inquiries_open", platform="wechat") >= before + N

            await until(all_open, f"{N} open inquiries on the second worker's /metrics")

            sent_so_far = 0

            async def sent_count() -> int:
                state = (await http.get(f"{stack.fakes}/wechat/__fake__/state")).json()
                return len(state["messages_sent"])

            async def kill_midway() -> str:
                nonlocal sent_so_far
                start = await sent_count()
                await until(lambda: _at_least(sent_count, start + KILL_AFTER), "replies before the kill")
                shared = await scrape(http, worker_b.ops_port)
                worker_b.process.kill()  # SIGKILL: no drain, activities and workflow tasks cut off
                worker_b.process.wait()
                sent_so_far = await sent_count()
                return shared

            doubts: list[str] = []

            async def answer(index_and_id: tuple[int, str]) -> None:
                index, msg_id = index_and_id
                api = apis[index % 2]
                url = f"{api}/inquiries/inquiry-wechat-{msg_id}"
                deadline = time.monotonic() + WITHIN_S
                while time.monotonic() < deadline:
                    with contextlib.suppress(httpx.HTTPError):
                        replied = await http.post(
                            f"{url}/reply", json={"text": "您好，九点开门。"}, headers=headers
                        )
                        if replied.status_code == 200 and replied.json()["status"] == "answered":
                            return
                        shown = (await http.get(url, headers=headers)).json()
                        if shown.get("status") == "answered":
                            return  # an earlier attempt went through (its answer was lost to us)
                        if shown.get("reply_in_doubt"):
                            doubts.append(msg_id)
                            return
                    await asyncio.sleep(1)
                raise AssertionError(f"inquiry-wechat-{msg_id} was not answered")

            killer = asyncio.create_task(kill_midway())
            await bounded(list(enumerate(msg_ids)), answer)
            metrics_b = await killer

            # A person settles each reply in doubt by looking at WeChat: delivered, or send it now.
            state = (await http.get(f"{stack.fakes}/wechat/__fake__/state")).json()
            reached = Counter(m["touser"] for m in state["messages_sent"])
            for msg_id in doubts:
                url = f"{apis[0]}/inquiries/inquiry-wechat-{msg_id}"
                delivered = reached[f"o_{msg_id}"] > 0
                settled = await http.post(
                    f"{url}/reply/reconcile", json={"delivered": delivered}, headers=headers
                )
                assert settled.status_code == 200, settled.text
                if not delivered:
                    again = await http.post(
                        f"{url}/reply", json={"text": "您好，九点开门。"}, headers=headers
                    )
                    assert again.status_code == 200, again.text

            state = (await http.get(f"{stack.fakes}/wechat/__fake__/state")).json()
            reached = Counter(m["touser"] for m in state["messages_sent"])
            assert {reached[f"o_{m}"] for m in msg_ids} == {1}, "a follower got no reply, or two"
            tokens = [at for path, at in state["calls"] if path.endswith("stable_token")]
            assert len(tokens) <= 2, "one token fetch per worker, however many replies start at once"
            busiest = busiest_second([at for path, at in state["calls"] if not path.endswith("stable_token")])
            assert busiest <= RATE, f"{busiest} calls to WeChat within one second (the policy allows {RATE})"

            # Both workers took part; the survivor carried on after the kill.
            assert metric(metrics_b, "mediaops_platform_calls_total", platform="wechat", call="reply") > 0
            text_a = await scrape(http, ops_a)
            assert metric(text_a, "mediaops_platform_calls_total", platform="wechat", call="reply") > 0
            assert sent_so_far < N

            async def all_answered() -> bool:
                text = await scrape(http, ops_a)
                return metric(text, "mediaops_inquiries_open", platform="wechat") <= before

            await until(all_answered, "the open inquiries back where they were on /metrics")
            api_metrics = await scrape(http, api_b.ops_port)
            route = "/inquiries/{inquiry_id}/reply"
            assert (
                metric(api_metrics, "mediaops_api_requests_total", method="POST", route=route, status="200")
                > 0
            )

        dsn = cli(env, "dev", "dsn").stdout.strip()
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT stream_id, count(*) AS n FROM events WHERE type = 'inquiry.replied' "
                "AND stream_id = ANY($1::text[]) GROUP BY stream_id",
                [f"inquiry-wechat-{m}" for m in msg_ids],
            )
        finally:
            await conn.close()
        assert len(rows) == N
        assert {r["n"] for r in rows} == {1}
    finally:
        api_b.stop()
        worker_b.stop()


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted
