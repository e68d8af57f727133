"""Who sent a person's command: the proof checked, and the person's roles read from the directory now.

A workflow cannot check a signature itself (the key never enters a workflow), so it asks this
activity, and its answer is recorded in the history: a replay sees the same answer, whatever the
directory or the keys say by then. A command is believed only when
- its MAC verifies with one of the command keys (mediaops/keys.py),
- it was signed for this very workflow,
- it was issued within R-ACCOUNTABLE's `commands_valid_for` (and not in the future),
- its nonce was never used before (a retry of this same activity is not a second use; a local
  check claims it for the run, which itself refuses a nonce it took before),
- its actor is a user who exists and is active; the roles are the directory's, not the command's
  (an `intake` command, the API vouching for a platform's delivery, names the system instead).
"""

from datetime import UTC, datetime, timedelta

import asyncpg
from pydantic import BaseModel
from temporalio import activity

from domain.commands import SYSTEM, Actor, Authenticated, Authentication, SignedCommand
from domain.policy import Policy
from domain.roles import parse_roles
from mediaops.keys import Keyring
from mediaops.signing import CommandSigner

CLOCK_SKEW = timedelta(seconds=30)
"""How far ahead of this worker's clock a command's issue time may be (the API's clock may run fast)."""


class AuthenticateRequest(BaseModel):
    command: SignedCommand


def _refused(reason: str) -> Authentication:
    return Authentication(refusal=reason)


class Identity:
    def __init__(self, pool: asyncpg.Pool, keys: Keyring, policy: Policy) -> None:
        self.pool = pool
        self.signer = CommandSigner(keys)
        self.valid_for = policy.accountable.commands_valid_for

    @activity.defn(name="identity.authenticate")
    async def authenticate(self, request: AuthenticateRequest) -> Authentication:
        info = activity.info()
        command = request.command
        if not self.signer.verifies(command):
            return _refused("the command's signature does not verify: it was not issued by MediaOps")
        if command.process != info.workflow_id:
            return _refused(f"the command was signed for {command.process}, not for this process")
        now = datetime.now(UTC)
        if command.issued_at > now + CLOCK_SKEW or now - command.issued_at > self.valid_for:
            return _refused("the command has expired (R-ACCOUNTABLE.commands_valid_for): sign it again")
        claimed_by = f"{info.workflow_id}/{info.workflow_run_id}"
        if not info.is_local:  # a local check's sequence may change when its task is retried: the
            claimed_by += f"/{info.activity_id}"  # run refuses a nonce it took (workflows/shell.py)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM command_nonces WHERE used_at < now() - $1::interval", self.valid_for + CLOCK_SKEW
            )
            await conn.execute(
                """INSERT INTO command_nonces (nonce, process, claimed_by) VALUES ($1, $2, $3)
                   ON CONFLICT (nonce) DO NOTHING""",
                command.nonce,
                command.process,
                claimed_by,
            )
            owner = await conn.fetchval(
                "SELECT claimed_by FROM command_nonces WHERE nonce = $1", command.nonce
            )
            roles = await conn.fetchval(
                "SELECT roles FROM users WHERE id = $1 AND NOT disabled", command.actor
            )
        if owner != claimed_by:
            return _refused("the command was used before: a replay is refused")
        if command.channel == "intake":  # the API vouches for a platform's delivery: no person acts
            actor = Actor(id=SYSTEM, roles=frozenset())
            return Authentication(
                authenticated=Authenticated(actor=actor, channel="intake", issued_at=command.issued_at)
            )
        if roles is None:
            return _refused(f"there is no active user '{command.actor}'")
        actor = Actor(id=command.actor, roles=parse_roles(roles))
        return Authentication(
            authenticated=Authenticated(actor=actor, channel=command.channel, issued_at=command.issued_at)
        )


class PolicyInForce:
    """The worker's policy, which a process adopts at its start (a client cannot choose it)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @activity.defn(name="policy.in_force")
    async def in_force(self) -> Policy:
        return self.policy
