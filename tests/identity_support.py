"""The system's keys for a test run, and people's commands signed as the API signs them.

The keys are made once per run and put in the environment, so every `Settings()` a test builds,
and every process an e2e test starts, uses the same ones. A test's people must be in its
database's user directory: the workflows ask it who someone is and which roles they hold.
"""

import os
from pathlib import Path

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from domain.commands import SYSTEM, Actor, Channel
from domain.errors import Refusal
from domain.inquiries import InquiryReceived, Message, digest
from eventstore.db import Conn
from eventstore.users import upsert_user
from mediaops.keys import Keys, load_keys
from mediaops.signing import CommandSigner
from mediaops.temporal import data_converter


def _keys() -> Keys:
    if "MEDIAOPS_CODEC_KEYS" not in os.environ or "MEDIAOPS_COMMAND_KEYS" not in os.environ:
        made = Keys.generate()
        os.environ["MEDIAOPS_CODEC_KEYS"] = ",".join(made.codec.spelled())
        os.environ["MEDIAOPS_COMMAND_KEYS"] = ",".join(made.commands.spelled())
    return load_keys(Path("unused"), os.environ["MEDIAOPS_CODEC_KEYS"], os.environ["MEDIAOPS_COMMAND_KEYS"])


KEYS = _keys()
DATA_CONVERTER = data_converter(KEYS)
SIGNER = CommandSigner(KEYS.commands)


def signed(process: str, command: BaseModel, channel: Channel = "api") -> dict[str, object]:
    """`command` (a domain command with its actor) as the signed JSON a workflow accepts."""
    actor = getattr(command, "actor")  # noqa: B009 - every person's command has one
    fields = command.model_dump(mode="json", exclude={"actor", "at"})
    envelope = SIGNER.sign(
        process=process, actor=actor.id, roles=actor.roles, command=fields, channel=channel
    )
    return envelope.model_dump(mode="json")


async def in_directory(conn: Conn, *people: Actor) -> None:
    """Put the people in the user directory with exactly these roles."""
    for person in people:
        await upsert_user(conn, person.id, person.id, person.roles)


def refusal(error: BaseException) -> Refusal:
    """The typed refusal a workflow's update failed with (what the API maps to 403 / 409 / 422)."""
    cause = getattr(error, "cause", None)
    assert isinstance(cause, ApplicationError), error
    assert cause.type == "Refused", cause
    return Refusal.model_validate(cause.details[0])


def vouched(process: str, command: dict[str, object]) -> dict[str, object]:
    """`command` as the intake signs what a platform delivered (no person: the system vouches)."""
    envelope = SIGNER.sign(process=process, actor=SYSTEM, roles=(), command=command, channel="intake")
    return envelope.model_dump(mode="json")


def intake_proof(process: str, received: InquiryReceived) -> dict[str, object]:
    return vouched(process, {"kind": "receive", "digest": digest(received)})


def user_wrote(process: str, message: Message) -> dict[str, object]:
    return vouched(process, {"kind": "user_wrote", **message.model_dump(mode="json")})
