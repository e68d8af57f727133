"""Signing people's commands (the API) and checking the signature (the identity activity).

An HMAC-SHA256 over the command's canonical bytes, with a key that only the API and the workers
hold (mediaops/keys.py): a workflow cannot tell a forged command from a real one by itself, so it
asks the identity activity, which holds the key. The key never enters a workflow or a history.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain.commands import Channel, SignedCommand
from domain.roles import Role
from mediaops.keys import Keyring

UNSIGNED = "-"


class CommandSigner:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def sign(
        self,
        *,
        process: str,
        actor: str,
        roles: Iterable[Role],
        command: dict[str, Any],
        channel: Channel,
        now: datetime | None = None,
    ) -> SignedCommand:
        key_id, key = self._keyring.current
        unsigned = SignedCommand(
            process=process,
            actor=actor,
            roles=tuple(sorted(roles)),
            command=command,
            channel=channel,
            issued_at=now or datetime.now(UTC),
            nonce=secrets.token_urlsafe(18),
            key_id=key_id,
            mac=UNSIGNED,
        )
        return unsigned.model_copy(update={"mac": _mac(key, unsigned)})

    def verifies(self, command: SignedCommand) -> bool:
        """Whether the command carries its MAC. A non-ASCII `mac` never does (a MAC is base64url), and
        compare_digest raises TypeError on one instead of answering: a forged command would fail
        the identity activity rather than be refused."""
        key = self._keyring.get(command.key_id)
        return (
            key is not None and command.mac.isascii() and hmac.compare_digest(_mac(key, command), command.mac)
        )


def _mac(key: bytes, command: SignedCommand) -> str:
    digest = hmac.new(key, command.signed_part(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
