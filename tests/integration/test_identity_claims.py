"""The identity activity's nonce claim: a retry of the same check is not a second use, a replay is.

A remote check claims the nonce for its own activity id (kept across its retries); a local one for
its run, since a retried workflow task may number its local activities anew (the run itself
refuses a nonce it took: workflows/shell.py).
"""

import dataclasses
from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.identity import AuthenticateRequest, Identity
from domain import articles as a
from domain.commands import SignedCommand
from domain.policy import Policy
from domain.roles import Role
from eventstore.store import EventStore
from tests.identity_support import KEYS, in_directory, signed

MANAGER = a.Actor(id="wang.manager", roles=frozenset({Role.OPERATIONS_MANAGER}))
PROCESS = "article-claims"


async def check(store: EventStore, command: SignedCommand, *, run: str, activity_id: str, local: bool) -> str:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id=PROCESS, workflow_run_id=run, activity_id=activity_id, is_local=local
    )
    answer = await env.run(
        Identity(store.pool, KEYS.commands, Policy()).authenticate, AuthenticateRequest(command=command)
    )
    return "ok" if answer.authenticated else answer.refusal or ""


def review() -> SignedCommand:
    made = a.Review(actor=MANAGER, version=1, decision="approve", at=datetime.now(UTC))
    return SignedCommand.model_validate(signed(PROCESS, made))


async def test_a_remote_check_is_its_own_activity_id_and_a_local_one_its_run(store: EventStore) -> None:
    async with store.pool.acquire() as conn:
        await in_directory(conn, MANAGER)
    remote = review()
    assert await check(store, remote, run="r1", activity_id="5", local=False) == "ok"
    assert await check(store, remote, run="r1", activity_id="5", local=False) == "ok"  # its retry
    assert "used before" in await check(store, remote, run="r1", activity_id="6", local=False)

    local = review()
    assert await check(store, local, run="r1", activity_id="7", local=True) == "ok"
    assert await check(store, local, run="r1", activity_id="9", local=True) == "ok"  # a retried task
    assert "used before" in await check(store, local, run="r2", activity_id="7", local=True)  # another run
    assert "used before" in await check(store, local, run="r1", activity_id="7", local=False)
