"""1,000 inquiries end to end, against 1,000 bare Temporal workflows on the same server, in one run.

    python -m bench.inquiries        # starts its own PostgreSQL, Temporal dev server, fakes, API, workers
    DATABASE_URL=... TEMPORAL_ADDRESS=... python -m bench.inquiries

Ours: each follower's message is pushed by the fake WeChat to the API's signed callback, becomes an
Inquiry workflow (events, deadline, timers, search attributes), and is answered through the API,
which sends the reply to the fake at most once. Then every inquiry is checked: exactly one
`inquiry.received` and exactly one reply delivered; anything else is lost or duplicated.

Baseline: 1,000 bare workflows with the same number of activities (no-ops), the same update for the
reply and the same 12-hour timer, but no events, checks, HTTP or projections. The last line printed
is JSON: inquiries, lost, duplicated, seconds, baseline_seconds, overhead_ratio.
"""

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.users import demo_user_id, ensure_demo_users, issue_token
from deploy.postgres import scratch_server
from deploy.processes import free_port, venv_bin
from domain.policy import policy_from_mapping
from domain.roles import Role
from eventstore.db import connect, create_pool, with_database
from eventstore.migrate import migrate
from eventstore.store import EventStore
from mediaops.logging import configure_logging
from mediaops.settings import Settings
from mediaops.temporal import DATA_CONVERTER
from tests.platforms_support import running_fakes
from workers.worker import build_worker, platform_workers
from workflows import search_attributes

N = int(os.environ.get("BENCH_INQUIRIES", "1000"))
POLICY = policy_from_mapping({"R-ACCOUNTS": {"calls_per_second": {"wechat": 1000}}})
"""The fake WeChat takes any rate; a real account's 5 calls/s (R-ACCOUNTS) would measure only the throttle."""
CONCURRENCY = 50
APPID = "wxdemo0000000001"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@activity.defn(name="bench.noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BareInquiry", sandboxed=False)
class BareInquiry:
    """An inquiry's shape (3 activities, a 12-hour timer, a reply update with 2 more) and nothing else."""

    def __init__(self) -> None:
        self.replied = False

    @workflow.run
    async def run(self, text: str) -> None:
        for _ in range(3):
            await workflow.execute_activity(noop, text, start_to_close_timeout=timedelta(seconds=30))
        try:
            await workflow.wait_condition(lambda: self.replied, timeout=timedelta(hours=12))
        except TimeoutError:
            return

    @workflow.update
    async def reply(self, text: str) -> None:
        for _ in range(2):
            await workflow.execute_activity(noop, text, start_to_close_timeout=timedelta(seconds=30))
        self.replied = True


async def limited(items: list[Any], work: Any) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Any) -> Any:
        async with gate:
            return await work(item)

    return await asyncio.gather(*(one(i) for i in items))


async def ours(http: httpx.AsyncClient, api: str, fakes: str, token: str) -> tuple[float, list[str]]:
    run = uuid.uuid4().hex[:6]
    msg_ids = [f"{int(time.time())}{run}{i:05d}" for i in range(N)]
    msg_ids = [str(int(m, 16) % 10**17) for m in msg_ids]
    start = time.perf_counter()

    async def push(msg_id: str) -> None:
        body = {"appid": APPID, "openid": f"o_{msg_id}", "text": "请问营业时间？", "msg_id": msg_id}
        answer = (await http.post(f"{fakes}/wechat/__fake__/user-message", json=body)).json()
        if answer.get("body") != "success":
            raise RuntimeError(f"callback refused {msg_id}: {answer}")

    await limited(msg_ids, push)
    say(f"  {N} messages acknowledged after {time.perf_counter() - start:.1f} s")

    async def answer(msg_id: str) -> None:
        url = f"{api}/inquiries/inquiry-wechat-{msg_id}"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(600):
            shown = await http.get(url, headers=headers)
            if shown.status_code == 200 and shown.json().get("deadline"):
                break
            await asyncio.sleep(0.05)
        replied = await http.post(f"{url}/reply", json={"text": "您好，九点开门。"}, headers=headers)
        if replied.status_code != 200:
            raise RuntimeError(f"reply to {msg_id} failed: {replied.status_code} {replied.text}")

    await limited(msg_ids, answer)
    return time.perf_counter() - start, msg_ids


async def bare(client: Client, queue: str) -> float:
    start = time.perf_counter()

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            BareInquiry.run, "x", id=f"bare-{uuid.uuid4().hex}", task_queue=queue
        )
        await handle.execute_update(BareInquiry.reply, "y")

    await limited(list(range(N)), one)
    return time.perf_counter() - start


async def audit(
    store: EventStore, http: httpx.AsyncClient, fakes: str, msg_ids: list[str]
) -> tuple[int, int]:
    rows = await store.pool.fetch(
        "SELECT stream_id, type FROM events WHERE stream_id LIKE 'inquiry-wechat-%' AND type IN "
        "('inquiry.received', 'inquiry.replied')"
    )
    counts = Counter((r["stream_id"], r["type"]) for r in rows)
    sent = Counter(
        m.get("touser") for m in (await http.get(f"{fakes}/wechat/__fake__/state")).json()["messages_sent"]
    )
    lost = duplicated = 0
    for msg_id in msg_ids:
        stream = f"inquiry-wechat-{msg_id}"
        seen = (
            counts[(stream, "inquiry.received")],
            counts[(stream, "inquiry.replied")],
            sent[f"o_{msg_id}"],
        )
        if 0 in seen:
            lost += 1
        elif any(n > 1 for n in seen):
            duplicated += 1
    return lost, duplicated


async def run(server: str) -> dict[str, Any]:
    database = f"bench_inq_{uuid.uuid4().hex[:8]}"
    admin = await connect(server)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    dsn = with_database(server, database)
    conn = await connect(dsn)
    await migrate(conn)
    await ensure_demo_users(conn)
    token = await issue_token(conn, demo_user_id(Role.CONTENT_SPECIALIST), "bench")
    await conn.close()
    external = os.environ.get("TEMPORAL_ADDRESS")
    env = (
        None
        if external
        else await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(venv_bin("temporal")),
            search_attributes=search_attributes.ALL,
            data_converter=DATA_CONVERTER,
            dev_server_log_level="error",
        )
    )
    client = env.client if env else await Client.connect(external or "", data_converter=DATA_CONVERTER)
    target = client.service_client.config.target_host
    pool = await create_pool(dsn, max_size=20)
    store = EventStore(pool)
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    queue, bare_queue = f"bench-{uuid.uuid4().hex[:6]}", f"bare-{uuid.uuid4().hex[:6]}"
    settings = Settings(database_url=dsn, temporal_address=target, task_queue=queue, log_level="warning")
    try:
        async with running_fakes(callback_base=api) as fakes, AsyncExitStack() as stack:
            server_ = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, fakes.accounts), host="127.0.0.1", port=api_port, log_config=None
                )
            )
            serving = asyncio.create_task(server_.serve())
            for worker in [
                build_worker(client, settings, POLICY, store),
                *platform_workers(client, POLICY, fakes.accounts, pool),
                Worker(client, task_queue=bare_queue, workflows=[BareInquiry], activities=[noop]),
            ]:
                await stack.enter_async_context(worker)
            while not server_.started:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient(
                timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY * 2)
            ) as http:
                say(f"ours: {N} inquiries through the callback and the API ...")
                seconds, msg_ids = await ours(http, api, fakes.base, token)
                say(f"  {seconds:.1f} s")
                say(f"baseline: {N} bare workflows ...")
                baseline = await bare(client, bare_queue)
                say(f"  {baseline:.1f} s")
                lost, duplicated = await audit(store, http, fakes.base, msg_ids)
            server_.should_exit = True
            await serving
    finally:
        await store.close()
        await pool.close()
        if env is not None:
            await env.shutdown()
        admin = await connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return {
        "inquiries": N,
        "lost": lost,
        "duplicated": duplicated,
        "seconds": round(seconds, 2),
        "baseline_seconds": round(baseline, 2),
        "overhead_ratio": round(seconds / baseline, 3),
    }


def main() -> None:
    configure_logging(Settings(log_level="warning"))
    with scratch_server(os.environ.get("DATABASE_URL")) as server:
        result = asyncio.run(run(server))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
