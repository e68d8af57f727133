"""WeChat's callback security: signatures, the AES "safe mode" envelope, and safe XML.

Follows the official scheme (platforms.md): signature = sha1 of the sorted [token, timestamp,
nonce] (plus the ciphertext for msg_signature); key = base64(EncodingAESKey + "="), AES-256-CBC
with IV = key[:16], PKCS#7 padding to 32-byte blocks; plaintext = 16 random bytes, a 4-byte
big-endian length, the message, then the appid. Replies are encrypted the same way. The previous
key is kept so a rotation does not drop messages in flight.
"""

import base64
import hashlib
import hmac
import os
import struct
from collections.abc import Iterable, Sequence
from typing import Any
from xml.etree.ElementTree import Element

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

BLOCK = 32


class CallbackRejected(ValueError):
    """A callback whose signature, envelope or addressee does not check out."""


def signature(*parts: str) -> str:
    """sha1 over the sorted, concatenated parts (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def signature_matches(expected: str, *parts: str) -> bool:
    """Whether `expected` (what the caller sent) is the parts' signature, in constant time.

    A non-ASCII `expected` never is (a signature is hex), and compare_digest raises TypeError on
    one rather than answering, which made a callback URL with `?signature=é` a 500.
    """
    return expected.isascii() and hmac.compare_digest(signature(*parts), expected)


def _pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise CallbackRejected("bad padding in the encrypted message")
    return data[:-n]


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The AES-256 key an EncodingAESKey stands for; ValueError for anything that is not one, so a
    mistyped key is refused when the accounts are loaded rather than on the first message."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except ValueError:
        key = b""
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("an EncodingAESKey is 43 base64 characters that decode to 32 bytes")
    return key


class WeChatCipher:
    """Encrypts and decrypts WeChat's safe-mode envelopes for one appid."""

    def __init__(self, aes_keys: Sequence[str], appid: str) -> None:
        if not aes_keys:
            raise ValueError("at least one EncodingAESKey is needed")
        self.keys = [decode_aes_key(k) for k in aes_keys]
        self.appid = appid

    def encrypt(self, message: bytes, *, random16: bytes | None = None) -> str:
        """With the current key (the first); `random16` is for tests against fixed vectors."""
        key = self.keys[0]
        prefix = random16 if random16 is not None else os.urandom(16)
        plain = _pad(prefix + struct.pack(">I", len(message)) + message + self.appid.encode())
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> bytes:
        """The message, trying the current key, then the previous one; the appid must be ours."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError:
            raise CallbackRejected("the encrypted message is not base64") from None
        if not raw or len(raw) % 16:
            raise CallbackRejected("the encrypted message has a wrong length")
        for key in self.keys:
            decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
            try:
                plain = _unpad(decryptor.update(raw) + decryptor.finalize())
            except CallbackRejected:
                continue
            if len(plain) < 20:
                continue
            (length,) = struct.unpack(">I", plain[16:20])
            message, appid = plain[20 : 20 + length], plain[20 + length :]
            if appid.decode(errors="replace") == self.appid:
                return message
        raise CallbackRejected("the message could not be decrypted for this account")


def _element(node: Element, force_list: frozenset[str]) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    result: dict[str, Any] = {}
    for child in children:
        value = _element(child, force_list)
        if child.tag in result:
            existing = result[child.tag]
            result[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        elif child.tag in force_list:
            result[child.tag] = [value]
        else:
            result[child.tag] = value
    return result


def parse_xml(text: str | bytes, *, force_list: Iterable[str] = ()) -> dict[str, Any]:
    """A WeChat XML document as a dict, refusing DTDs and entities (no billion laughs, no XXE).

    Elements named in `force_list` are always lists, so one item and several look the same.
    """
    try:
        root = ElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:
        raise CallbackRejected(f"not acceptable XML: {type(exc).__name__}") from None
    parsed = _element(root, frozenset(force_list))
    return parsed if isinstance(parsed, dict) else {}


def to_xml(fields: dict[str, str | int]) -> str:
    """A flat <xml> reply; text in CDATA as WeChat writes it."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{key}>{value}</{key}>")
        else:
            parts.append(f"<{key}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{key}>")
    return "<xml>" + "".join(parts) + "</xml>"
