"""The API over a real PostgreSQL and a real Temporal dev server: health, tokens, permissions."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import LAG_DEGRADED, create_app
from deploy.processes import free_port
from domain.roles import Role
from eventstore.store import NO_STREAM, EventStore, NewEvent
from eventstore.users import demo_user_id, ensure_demo_users, issue_token, revoke_tokens
from mediaops.settings import Settings


def settings_for(database: str, temporal: str) -> Settings:
    return Settings(database_url=database, temporal_address=temporal, env="test")


@pytest.fixture(scope="module")
async def client(database: str, temporal_dev: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(database, temporal_dev.client.service_client.config.target_host))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http
    await app.state.mediaops.close()


async def token_for(db: asyncpg.Connection, role: Role) -> str:
    await ensure_demo_users(db)
    return await issue_token(db, demo_user_id(role), "test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_healthz_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_both_dependencies_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


async def test_readyz_names_what_is_down(database: str) -> None:
    app = create_app(settings_for(database, f"127.0.0.1:{free_port()}"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        response = await http.get("/readyz")
    await app.state.mediaops.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert [d.split(":")[0] for d in body["down"]] == ["temporal"]
    assert all(d.count(":") == 1 for d in body["down"])  # the failure's kind, never its text (L3)


async def test_with_temporal_down_a_command_is_503_with_retry_after(
    database: str, db: asyncpg.Connection
) -> None:
    """M12: an outage is a 503 the caller can retry, not a 500."""
    token = await token_for(db, Role.CONTENT_SPECIALIST)
    app = create_app(settings_for(database, f"127.0.0.1:{free_port()}"))
    phoned = {
        "platform": "phone",
        "user": "张先生",
        "text": "几点开门？",
        "received_at": datetime.now(UTC).isoformat(),
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        response = await http.post("/inquiries", json=phoned, headers=bearer(token))
    await app.state.mediaops.close()
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")
    assert response.headers["retry-after"].isdigit()


async def test_with_no_worker_answering_an_update_is_503_not_a_hang(
    database: str, db: asyncpg.Connection, temporal_dev: WorkflowEnvironment
) -> None:
    """M12: the worker is down; a person's command waits the configured time, then 503."""
    token = await token_for(db, Role.OPERATIONS_MANAGER)
    workflow_id = f"article-{uuid.uuid4().hex[:10]}"
    await temporal_dev.client.start_workflow("Article", {}, id=workflow_id, task_queue="nobody-polls-this")
    settings = settings_for(database, temporal_dev.client.service_client.config.target_host)
    app = create_app(settings.model_copy(update={"update_timeout_s": 2.0}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        response = await http.post(
            f"/articles/{workflow_id.removeprefix('article-')}/review",
            json={"decision": "approve", "version": 1},
            headers=bearer(token),
            timeout=30,
        )
    await app.state.mediaops.close()
    await temporal_dev.client.get_workflow_handle(workflow_id).terminate()
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")


async def test_readyz_is_degraded_while_a_read_model_trails(
    client: httpx.AsyncClient, db: asyncpg.Connection, store: EventStore
) -> None:
    """H7: a projection that stopped or fell behind shows in /readyz, not only in stale lists."""
    name = f"stalled_{uuid.uuid4().hex[:6]}"
    await db.execute("INSERT INTO projection_checkpoints (name) VALUES ($1)", name)
    events = [NewEvent(uuid.uuid4(), "test.happened", {"n": i}) for i in range(LAG_DEGRADED + 1)]
    await store.append(f"stalled-{name}", NO_STREAM, events)
    body = (await client.get("/readyz")).json()
    assert body["status"] == "degraded"
    assert body["projections_behind"][name] > LAG_DEGRADED
    await db.execute("DELETE FROM projection_checkpoints WHERE name = $1", name)
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readyz_is_degraded_while_an_acknowledged_delivery_waits(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """M12: a delivery kept in the inbox that no drain got through for a minute shows in /readyz."""
    key = uuid.uuid4().hex
    await db.execute(
        """INSERT INTO inbox (platform, account, dedupe_key, received, kept_at)
           VALUES ('wechat', 'demo', $1, '{}', now() - interval '2 minutes')""",
        key,
    )
    assert (await client.get("/readyz")).json() == {"status": "degraded", "inbox_waiting": 1}
    await db.execute("UPDATE inbox SET taken_at = now() WHERE dedupe_key = $1", key)
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_me_without_token_is_401_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("token", ["mo_not-a-real-token", "garbage", ""])
async def test_me_with_bad_token_is_401_json(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_me_with_token_gives_the_role(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    token = await token_for(db, Role.CONTENT_SPECIALIST)
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "demo.content_specialist"
    assert body["roles"] == ["content_specialist"]
    assert "article.submit" in body["permissions"]
    assert "article.review" not in body["permissions"]


async def test_lacking_permission_is_403_naming_it(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    token = await token_for(db, Role.CONTENT_SPECIALIST)
    response = await client.get("/users", headers=bearer(token))
    assert response.status_code == 403
    body = response.json()
    assert body == {
        "error": "forbidden",
        "detail": "permission 'users.read' is not granted to content_specialist",
        "permission": "users.read",
        "rule": "R-ACCOUNTS",
    }


async def test_permitted_role_is_served(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    token = await token_for(db, Role.OPERATIONS_MANAGER)
    response = await client.get("/users", headers=bearer(token))
    assert response.status_code == 200
    assert {u["id"] for u in response.json()} >= {demo_user_id(r) for r in Role}


async def test_policy_is_readable_by_every_role(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    token = await token_for(db, Role.AUDITOR)
    response = await client.get("/policy", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["R-INQUIRY-12H"] == {
        "within": "12h",
        "clock": "wall",
        "comment_poll_every": "10m",
        "reopen_within": "1d",
        "backfill_after": "7d",
    }


async def test_revoked_and_expired_tokens_are_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    await ensure_demo_users(db)
    expired = await issue_token(
        db, demo_user_id(Role.AUDITOR), "expired", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert (await client.get("/me", headers=bearer(expired))).status_code == 401
    revoked = await issue_token(db, demo_user_id(Role.AUDITOR), "revoked")
    assert (await client.get("/me", headers=bearer(revoked))).status_code == 200
    await revoke_tokens(db, demo_user_id(Role.AUDITOR))
    assert (await client.get("/me", headers=bearer(revoked))).status_code == 401


async def test_tokens_are_stored_only_as_digests(db: asyncpg.Connection) -> None:
    token = await token_for(db, Role.GENERAL_MANAGER)
    rows = await db.fetch("SELECT token_sha256::text AS t, label FROM api_tokens")
    assert all(token not in r["t"] for r in rows)


async def test_the_cli_revokes_a_users_tokens(
    client: httpx.AsyncClient, db: asyncpg.Connection, database: str
) -> None:
    token = await token_for(db, Role.CHANNEL_SPECIALIST)
    assert (await client.get("/me", headers=bearer(token))).status_code == 200
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "users", "revoke", demo_user_id(Role.CHANNEL_SPECIALIST)],
        env={**os.environ, "DATABASE_URL": database},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stdout
    assert (await client.get("/me", headers=bearer(token))).status_code == 401
