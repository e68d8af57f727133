"""Platform accounts and their credentials, read from a secrets file (R-SECRETS, R-ACCOUNTS).

Workflows and events name an account only by (platform, account name); the credentials stay in
the worker's memory, loaded from `MEDIAOPS_ACCOUNTS_FILE` (TOML), and are held as SecretStr so
they print as '**********' anywhere they might be logged.

    [[account]]
    platform = "wechat"
    name = "demo"
    base_url = "https://api.weixin.qq.com"
    appid = "wx..."
    secret = "..."
    token = "..."                 # the server-URL callback token
    original_id = "gh_..."        # 原始ID: what WeChat puts in a pushed message's ToUserName
    aes_keys = ["current-43-char-key", "previous-key"]
    image_hosts = ["cdn.example.com", "10.0.0.8:8080"]   # fetched from without address checks
    default_cover = "https://cdn.example.com/cover.jpg"  # or a media_id: a text-only post's cover

A platform that pushes to us (WeChat, the mini program, Weibo) signs each push with a key; an
account without it does not load, since sha1 over an empty key is a signature anyone can make.
"""

import ipaddress
import tomllib
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from activities.platforms.wechat_crypto import decode_aes_key
from domain.platforms import Platform
from mediaops.logging import register_secrets

CALLBACK_KEY_FIELD: dict[Platform, str] = {
    Platform.WECHAT: "token",
    Platform.MINIPROGRAM: "token",
    Platform.WEIBO: "secret",
}
"""Where each pushing platform's signing key is: WeChat's server-URL token, Weibo's app secret."""

ImageHost = Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")]
"""An image host as an account lists it: a name or an address ([...] for IPv6), optionally :port."""


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    base_url: str
    appid: str = ""
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    aes_keys: tuple[SecretStr, ...] = ()
    original_id: str = Field(default="", pattern=r"^(gh_[0-9a-z]{12})?$")
    """WeChat's original id (原始ID, the 开发者微信号 `gh_` + 12 characters) of an official account or
    mini program: a pushed message's ToUserName, where the appid never appears."""
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout_s: float = Field(default=15.0, gt=0)
    image_hosts: tuple[ImageHost, ...] = ()
    """Hosts (`host`, or `host:port` to allow that port too) the worker fetches this account's
    images from without refusing private addresses: the company CDN, the demo's fakes. Any other
    image must be on a public address and port 80 or 443 (activities/platforms/images.py)."""
    default_cover: str = Field(default="", pattern=r"^(https?://\S+|[A-Za-z0-9_-]+)?$")
    """WeChat: the cover of a post without an image, as an image URL or a permanent material's media_id."""

    @field_validator("aes_keys")
    @classmethod
    def _aes_keys_decode(cls, keys: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        """A mistyped EncodingAESKey stops the start, not every safe-mode message after it."""
        for key in keys:
            decode_aes_key(key.get_secret_value())
        return keys

    @model_validator(mode="after")
    def _callbacks_are_keyed(self) -> "Account":
        key = self.callback_key()
        if key is not None and not key.get_secret_value().strip():
            raise ValueError(
                f"a {self.platform} account needs `{CALLBACK_KEY_FIELD[self.platform]}`: its pushes are "
                "signed with it, and one signed with an empty key could come from anyone"
            )
        if self.platform in (Platform.WECHAT, Platform.MINIPROGRAM) and not self.original_id:
            raise ValueError(
                f"a {self.platform} account needs `original_id` (gh_...): the ToUserName of every "
                "message WeChat pushes to it"
            )
        return self

    def callback_key(self) -> SecretStr | None:
        """The key this account's pushes are signed with; None for a platform that never pushes."""
        field = CALLBACK_KEY_FIELD.get(self.platform)
        key = getattr(self, field) if field else None
        return key if isinstance(key, SecretStr) else None


def _this_machine(host: str) -> bool:
    """localhost, a name under it, or a loopback address (127.0.0.0/8, ::1)."""
    host = host.lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AccountsError(ValueError):
    pass


class Accounts:
    def __init__(self, accounts: list[Account]) -> None:
        self._by_key: dict[tuple[Platform, str], Account] = {}
        for account in accounts:
            key = (account.platform, account.name)
            if key in self._by_key:
                raise AccountsError(f"account {account.platform}/{account.name} is configured twice")
            self._by_key[key] = account
            register_secrets(account)  # R-SECRETS: redacted exactly wherever they would appear

    def get(self, platform: Platform, name: str) -> Account:
        try:
            return self._by_key[(platform, name)]
        except KeyError:
            raise AccountsError(f"no {platform} account named '{name}' is configured") from None

    def all(self) -> list[Account]:
        return list(self._by_key.values())

    def not_for_production(self) -> list[str]:
        """The accounts that are demo accounts or point at the fakes, each with why.

        A real platform is reached over HTTPS at a public name; the fakes `make run` starts listen
        on loopback over plain HTTP, and the demo accounts are all named `demo`. Image hosts and a
        default cover on this machine are refused too: an image host skips the address checks.
        """
        found = []
        for account in self.all():
            url = urlsplit(account.base_url)
            named = f"{account.platform}/{account.name}"
            local = [h for h in account.image_hosts if _this_machine(urlsplit(f"//{h}").hostname or "")]
            cover = (
                urlsplit(account.default_cover).hostname if account.default_cover.startswith("http") else None
            )
            if account.name == "demo":
                found.append(f"{named} is a demo account")
            elif _this_machine(url.hostname or ""):
                found.append(f"{named} points at this machine ({url.hostname or 'no host'})")
            elif url.scheme != "https":
                found.append(f"{named} is not reached over HTTPS")
            elif local:
                found.append(f"{named} takes images from this machine ({', '.join(local)})")
            elif cover is not None and _this_machine(cover):
                found.append(f"{named} has its default cover on this machine")
        return found

    @classmethod
    def load(cls, path: Path | None) -> "Accounts":
        if path is None:
            return cls([])
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise AccountsError(f"{path}: {exc}") from None
        accounts = []
        for i, entry in enumerate(data.get("account", [])):
            try:
                accounts.append(Account.model_validate(entry))
            except ValidationError as exc:
                fields = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'account'}: {e['msg']}" for e in exc.errors()
                )
                named = f" ({entry.get('platform')}/{entry.get('name')})" if isinstance(entry, dict) else ""
                raise AccountsError(f"{path}: account #{i + 1}{named}: {fields}") from None
        return cls(accounts)
