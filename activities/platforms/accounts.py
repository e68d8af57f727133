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
    aes_keys = ["current-43-char-key", "previous-key"]
"""

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from domain.platforms import Platform


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    base_url: str
    appid: str = ""
    secret: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    aes_keys: tuple[SecretStr, ...] = ()
    username: str = ""
    password: SecretStr = SecretStr("")
    timeout_s: float = Field(default=15.0, gt=0)


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

    def get(self, platform: Platform, name: str) -> Account:
        try:
            return self._by_key[(platform, name)]
        except KeyError:
            raise AccountsError(f"no {platform} account named '{name}' is configured") from None

    def all(self) -> list[Account]:
        return list(self._by_key.values())

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
                fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise AccountsError(f"{path}: account #{i + 1}: {fields}") from None
        return cls(accounts)
