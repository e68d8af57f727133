"""Temporal payloads encrypted with AES-256-GCM: histories hold no user text in clear (R-SECRETS).

Every client, worker and replayer uses the same codec (mediaops/temporal.py). A payload records the
id of the key that sealed it, so after a rotation new payloads use the current key and old ones
still open. Payloads written before encryption was introduced (the recorded reference histories)
carry no such mark and pass through unchanged. A forged payload does not open: GCM authenticates.
The API serves the same codec to the Temporal UI (`/codec/decode`) for signed-in ops.
"""

import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from mediaops.keys import Keyring

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


UNREADABLE = "unreadable_payload"
"""What a sealed payload that no configured key opens (unknown key id, altered, truncated) decodes to.

Not an error: a payload that cannot be decoded would fail its workflow's task on every retry (a
signal stays in the history for good), so a forged or damaged one becomes a message no handler
accepts (a person's command it cannot be: it is refused and recorded like any unproven command).
"""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._current = keyring.current[0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._current.encode()
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before payloads were encrypted
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return _unreadable(f"no codec key '{key_id[:32]}' is configured (was it dropped too early?)")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
            return Payload.FromString(plain)
        except (InvalidTag, ValueError, DecodeError):
            return _unreadable(f"a payload sealed with key '{key_id}' does not open: altered or truncated")


def _unreadable(reason: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({UNREADABLE: reason}).encode())
