"""1,000 inquiries end to end, against 1,000 bare Temporal workflows on the same server, in one run.

    python -m bench.inquiries        # runs `mediaops up` (PostgreSQL, Temporal, fakes, worker, API)
    DATABASE_URL=... TEMPORAL_ADDRESS=... python -m bench.inquiries   # a scratch database on that server

Ours is measured as `make run` runs it: the fakes, the worker and the API each in a process of
their own, with the policy's WeChat rate limit lifted (see POLICY_TOML).

Ours: each follower's message is pushed by the fake WeChat to the API's signed callback, becomes an
Inquiry workflow (events, deadline, timers, search attributes), and is answered through the API,
which sends the reply to the fake at most once. Then every inquiry is checked: exactly one
`inquiry.received` and exactly one reply delivered; anything else is lost or duplicated.

Baseline (bench/bare_inquiry.py): 1,000 plain workflows of the same shape (3 activities to record,
a reply update that waits for them and runs 2 more, the 12-hour and the follow-up timers), no-op
activities and nothing of ours: no events, checks, HTTP, search attributes or projections. Same
Temporal server, Temporal's default sandbox like ours, their worker in this process.

The last line printed is JSON: inquiries, lost, duplicated, seconds, baseline_seconds, overhead_ratio.
"""

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare_inquiry import BareInquiry, BareStart, noop
from deploy.launch import StackProcess, stack_environment
from domain.policy import Policy
from eventstore.db import connect, create_pool, with_database
from eventstore.store import EventStore
from mediaops.keys import Keys
from mediaops.temporal import data_converter
from workers.worker import cache_workflow_bytecode

N = int(os.environ.get("BENCH_INQUIRIES", "1000"))
POLICY_TOML = "[R-ACCOUNTS]\ncalls_per_second = { wechat = 1000 }\n"
"""The fake WeChat takes any rate; a real account's 5 calls/s (R-ACCOUNTS) would measure only the throttle."""
BARE_START = BareStart(
    reply_within=Policy().inquiry_12h.within, reopen_within=Policy().inquiry_12h.reopen_within
)
CONCURRENCY = 50
APPID = "wxdemo0000000001"

KEYS = Keys.generate()
"""The run's codec and command keys: the stack it starts and this client share them."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    headers = {"Authorization": f"Bearer {token}"}

    async def one(msg_id: str) -> None:
        """The follower writes (the fake pushes the signed callback), then staff answer at once.

        The reply's update waits inside the workflow until the inquiry is recorded, just as the
        baseline's does; as soon as the callback is acknowledged its workflow exists.
        """
        body = {"appid": APPID, "openid": f"o_{msg_id}", "text": "请问营业时间？", "msg_id": msg_id}
        pushed = (await http.post(f"{fakes}/wechat/__fake__/user-message", json=body)).json()
        if pushed.get("body") != "success":
            raise RuntimeError(f"callback refused {msg_id}: {pushed}")
        url = f"{api}/inquiries/inquiry-wechat-{msg_id}/reply"
        replied = await http.post(url, json={"text": "您好，九点开门。"}, headers=headers)
        if replied.status_code != 200:
            raise RuntimeError(f"reply to {msg_id} failed: {replied.status_code} {replied.text}")

    start = time.perf_counter()
    await limited(msg_ids, one)
    return time.perf_counter() - start, msg_ids


async def bare(client: Client, queue: str) -> float:
    start = time.perf_counter()

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            BareInquiry.run, BARE_START, id=f"bare-{uuid.uuid4().hex}", task_queue=queue
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


async def run(stack: StackProcess) -> dict[str, Any]:
    token = stack.cli("dev", "token", "content_specialist").stdout.strip()
    dsn = stack.cli("dev", "dsn").stdout.strip()
    client = await Client.connect(stack.temporal, data_converter=data_converter(KEYS))
    cache_workflow_bytecode([BareInquiry])  # as the worker does for ours: same footing in the sandbox
    bare_queue = f"bare-{uuid.uuid4().hex[:6]}"
    pool = await create_pool(dsn, max_size=4)
    try:
        async with (
            Worker(client, task_queue=bare_queue, workflows=[BareInquiry], activities=[noop]),
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)) as http,
        ):
            say(f"ours: {N} inquiries through the callback and the API ...")
            seconds, msg_ids = await ours(http, stack.url(""), stack.fakes, token)
            say(f"  {seconds:.1f} s")
            say(f"baseline: {N} bare workflows ...")
            baseline = await bare(client, bare_queue)
            say(f"  {baseline:.1f} s")
            lost, duplicated = await audit(EventStore(pool), http, stack.fakes, msg_ids)
    finally:
        await pool.close()
    return {
        "inquiries": N,
        "lost": lost,
        "duplicated": duplicated,
        "seconds": round(seconds, 2),
        "baseline_seconds": round(baseline, 2),
        "overhead_ratio": round(seconds / baseline, 3),
    }


@contextmanager
def stack_for_bench(home: Path) -> Iterator[StackProcess]:
    """`mediaops up` as `make run` starts it; on a scratch database when DATABASE_URL is set."""
    policy = home / "policy.toml"
    home.mkdir(parents=True, exist_ok=True)
    policy.write_text(POLICY_TOML)
    extra = {"MEDIAOPS_POLICY_FILE": str(policy), "MEDIAOPS_LOG_LEVEL": "warning"}
    if os.environ.get("TEMPORAL_ADDRESS"):
        extra["TEMPORAL_ADDRESS"] = os.environ["TEMPORAL_ADDRESS"]
    with ExitStack() as cleanup:
        server = os.environ.get("DATABASE_URL")
        if server:
            extra["DATABASE_URL"] = cleanup.enter_context(scratch_database(server))
        keys = {"MEDIAOPS_CODEC_KEYS": ",".join(KEYS.codec.spelled()),
                "MEDIAOPS_COMMAND_KEYS": ",".join(KEYS.commands.spelled())}  # fmt: skip
        stack = StackProcess(stack_environment(home / "state", **extra, **keys), home / "up.log")
        try:
            stack.wait_ready()
            yield stack
        finally:
            if stack.interrupt() != 0:
                say(stack.output())


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    database = f"bench_inq_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await connect(server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    try:
        yield with_database(server, database)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-inquiries-") as home, stack_for_bench(Path(home)) as stack:
        result = asyncio.run(run(stack))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
