"""The system's own keys: one keyring to encrypt Temporal payloads, one to sign people's commands.

R-SECRETS. Each keyring is a list of (key id, 32 random bytes), the current key first: new payloads
and new commands use it, and the older ones stay so that anything written or signed with them can
still be read. Rotation is adding a key in front; a key is dropped only once nothing still needs it.

They come from the environment (`MEDIAOPS_CODEC_KEYS`, `MEDIAOPS_COMMAND_KEYS`, each
`id:base64url,id:base64url`, current first) or from a TOML file readable by its owner only
(`MEDIAOPS_KEYS_FILE`, default `$MEDIAOPS_HOME/keys.toml`), which `mediaops up` creates when missing:

    codec = ["c2:...", "c1:..."]
    commands = ["s1:..."]
"""

import base64
import json
import os
import re
import secrets
import stat
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeysError(ValueError):
    """The keys cannot be used as configured; the message says which and why (never the key)."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id, the current one first."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeysError("a keyring needs at least one key")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise KeysError(f"two keys share an id: {ids}")

    @property
    def current(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, key_id: str) -> bytes | None:
        return next((key for kid, key in self.keys if kid == key_id), None)

    def rotated(self, key_id: str | None = None) -> "Keyring":
        """A new current key in front of the ones kept for reading."""
        return Keyring(((key_id or new_key_id(), secrets.token_bytes(KEY_BYTES)), *self.keys))

    def spelled(self) -> list[str]:
        return [f"{kid}:{base64.urlsafe_b64encode(key).decode()}" for kid, key in self.keys]

    @classmethod
    def generate(cls, prefix: str) -> "Keyring":
        return cls(((new_key_id(prefix), secrets.token_bytes(KEY_BYTES)),))

    @classmethod
    def parse(cls, entries: list[str], where: str) -> "Keyring":
        keys = []
        for i, entry in enumerate(entries):
            key_id, sep, encoded = entry.strip().partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeysError(f"{where}: key #{i + 1} is not `id:base64url` (id: letters, digits, . _ -)")
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError:
                raise KeysError(f"{where}: key {key_id} is not base64url") from None
            if len(key) != KEY_BYTES:
                raise KeysError(f"{where}: key {key_id} has {len(key)} bytes, not {KEY_BYTES}")
            keys.append((key_id, key))
        return cls(tuple(keys))


def new_key_id(prefix: str = "k") -> str:
    return f"{prefix}{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Keys:
    codec: Keyring
    commands: Keyring

    @classmethod
    def generate(cls) -> "Keys":
        return cls(codec=Keyring.generate("c"), commands=Keyring.generate("s"))

    def toml(self) -> str:
        return "\n".join(
            [
                "# MediaOps' own keys (R-SECRETS): current first; older ones kept while anything needs them.",
                f"codec = {json.dumps(self.codec.spelled())}",
                f"commands = {json.dumps(self.commands.spelled())}",
                "",
            ]
        )


def write_keys(path: Path, keys: Keys) -> None:
    """Write the keys file, readable by its owner only, without a moment of wider access."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(keys.toml())


def ensure_keys_file(path: Path) -> bool:
    """Create the keys file with new keys when it is missing; True when it was created."""
    if path.exists():
        return False
    write_keys(path, Keys.generate())
    return True


def load_keys(path: Path, codec_env: str | None, commands_env: str | None) -> Keys:
    """The keys from the environment where set, else from the owner-only file."""
    from_file: dict[str, list[str]] = {}
    if codec_env is None or commands_env is None:
        from_file = _read_file(path)
    codec = (
        Keyring.parse(codec_env.split(","), "MEDIAOPS_CODEC_KEYS")
        if codec_env is not None
        else Keyring.parse(_entries(from_file, "codec", path), f"{path}: codec")
    )
    commands = (
        Keyring.parse(commands_env.split(","), "MEDIAOPS_COMMAND_KEYS")
        if commands_env is not None
        else Keyring.parse(_entries(from_file, "commands", path), f"{path}: commands")
    )
    return Keys(codec=codec, commands=commands)


def _read_file(path: Path) -> dict[str, list[str]]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeysError(
            f"{path} does not exist: run `mediaops keys init` (make run creates it), "
            "or set MEDIAOPS_CODEC_KEYS and MEDIAOPS_COMMAND_KEYS"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeysError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KeysError(f"{path}: {exc}") from None
    return data


def _entries(data: dict[str, list[str]], name: str, path: Path) -> list[str]:
    entries = data.get(name)
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise KeysError(f"{path}: `{name}` must be a list of `id:base64url` keys")
    return entries
