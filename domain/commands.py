"""A person's command as it crosses into a process: who sent it, with proof, and its refusal when it fails.

R-ACCOUNTABLE asks the record to say who approved what. That is only true if a workflow believes
a command solely on proof: the command travels as a `SignedCommand`, issued by an authenticated
caller (the API for a bearer token, or the API's signing endpoint for an ops person using the
Temporal UI or CLI), bound to one process, signed with a key only the system holds, single-use and
short-lived. The actor's roles in it are the issuer's reading of the user directory; the workflow
asks the directory again before it decides, and takes the time of the decision from its own clock.

This module only describes the envelope and the facts; computing and checking the MAC needs the
key, which never enters a workflow (mediaops/signing.py, activities/identity.py).
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from domain.durations import Instant
from domain.errors import Invalid, RefusalKind
from domain.events import REGISTRY, DomainEvent
from domain.roles import Role
from domain.rules import RuleId

C = TypeVar("C", bound=BaseModel)
Channel = Literal["api", "ops", "intake"]
"""How a command came: a person's through the HTTP API, or signed for an ops tool (Temporal UI,
CLI); or `intake`, the API vouching for what a platform delivered (it checked the platform's own
signature), which names no person."""
SYSTEM = "mediaops"
"""The actor of an `intake` command: the system itself, not a person in the directory."""


USER_ID = r"^[a-z0-9_.-]{2,64}$"
"""A user id as the directory keeps them (the `users` table checks the same)."""


class Actor(BaseModel):
    """A person, with the roles the user directory gives them."""

    model_config = ConfigDict(frozen=True)

    id: str
    roles: frozenset[Role]


class SignedCommand(BaseModel):
    """A person's command for one process, with the proof that the system issued it for them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    process: str = Field(description="the workflow id the command is for; valid nowhere else")
    actor: str = Field(min_length=1, max_length=64)
    roles: tuple[Role, ...] = Field(description="the directory's roles when issued (re-read on use)")
    command: dict[str, Any] = Field(description="the command's fields, e.g. kind, version, decision")
    channel: Channel
    issued_at: AwareDatetime
    nonce: str = Field(min_length=16, max_length=64, description="single use")
    key_id: str = Field(min_length=1, max_length=64)
    mac: str = Field(min_length=1, max_length=128, description="HMAC-SHA256 of everything else")

    def signed_part(self) -> bytes:
        """The canonical bytes the MAC covers: every field but the MAC, in one spelling."""
        fields = self.model_dump(mode="json", exclude={"mac"})
        fields["roles"] = sorted(fields["roles"])
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Authenticated(BaseModel):
    """What the directory and the proof establish about a signed command: who, with which roles now."""

    actor: Actor
    channel: Channel
    issued_at: Instant


class Authentication(BaseModel):
    """The identity check's answer: the person, or why the command proves nothing."""

    authenticated: Authenticated | None = None
    refusal: str = ""


RESERVED = frozenset({"actor", "at"})
"""Fields a signed command may not carry: the actor comes from the proof, the time from the workflow."""


def envelope(raw: object) -> SignedCommand | None:
    """The signed command in a message from outside, or None when it is not one at all."""
    try:
        return SignedCommand.model_validate(raw)
    except ValidationError:
        return None


def person_command(
    parse: Callable[[dict[str, Any]], C], fields: dict[str, Any], actor: Actor, at: datetime
) -> C:
    """The domain command a signed command asks for, with the proven actor and the workflow's time.

    Only what `parse` takes parses (one update's command, or a process's person commands): its
    internal commands (check results, platform outcomes, timers) can never be sent from outside.
    """
    reserved = sorted(RESERVED & set(fields))
    if reserved:
        raise Invalid(RuleId.ACCOUNTABLE, f"a command may not set {', '.join(reserved)}", field=reserved[0])
    try:
        return parse({**fields, "actor": actor, "at": at})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "command"
        raise Invalid(
            RuleId.ACCOUNTABLE, f"not a command this process takes ({where}: {first['msg']})", field=where
        ) from None


@REGISTRY.register
class CommandRefused(DomainEvent):
    """A command from outside was refused: kept, so an audit sees attempts as well as decisions."""

    type: Literal["command.refused"] = "command.refused"
    command: str = Field(description="the command's kind, as sent")
    claimed_actor: str | None = Field(
        description="who it claimed to come from (unproven when unauthenticated)"
    )
    channel: str | None
    refusal: RefusalKind
    rule: RuleId
    reason: str
    at: Instant
