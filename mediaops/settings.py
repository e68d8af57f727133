"""Configuration from the environment, validated once at start-up.

Every process (API, worker, CLI) reads the same settings so they agree on which PostgreSQL and
which Temporal they use. A bad value stops start-up with a message that names the variable.
"""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import Policy, load_policy

Environment = Literal["development", "test", "production"]


class SettingsError(ValueError):
    """The environment holds a value that cannot be used; the message names each variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIAOPS_", extra="ignore", frozen=True)

    env: Environment = "development"
    home: Path = Field(default=Path(".mediaops"), description="state kept between runs (embedded data)")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "MEDIAOPS_DATABASE_URL"),
        description="an external PostgreSQL; unset: the embedded one under MEDIAOPS_HOME",
    )
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "MEDIAOPS_TEMPORAL_ADDRESS"),
        description="an external Temporal frontend host:port; unset: the embedded dev server",
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "MEDIAOPS_TEMPORAL_NAMESPACE")
    )
    task_queue: str = "mediaops"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    pg_port: int = Field(default=55432, ge=1, le=65535, description="port of the embedded PostgreSQL")
    temporal_port: int = Field(default=7233, ge=1, le=65535, description="port of the embedded Temporal")
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535, description="port of the Temporal Web UI")
    policy_file: Path | None = Field(default=None, description="policy.toml; unset: ./policy.toml if present")
    accounts_file: Path | None = Field(
        default=None, description="platform accounts and credentials (TOML); `mediaops up` writes a demo one"
    )
    notify_webhook: str | None = Field(
        default=None, description="a chat webhook for reminders and escalations (WeCom robot format)"
    )
    fakes_port: int = Field(
        default=8900, ge=1, le=65535, description="port of the fake platforms (`make run`)"
    )
    log_format: Literal["console", "json"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// connection URL")
        return value or None

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port, e.g. 127.0.0.1:7233")
        return value

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def dsn(self) -> str:
        """The PostgreSQL in use: DATABASE_URL, or the embedded server's database."""
        return self.database_url or f"postgresql://mediaops@127.0.0.1:{self.pg_port}/mediaops"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        return self.log_format or ("json" if self.env == "production" else "console")

    @property
    def effective_policy_file(self) -> Path | None:
        if self.policy_file is not None:
            return self.policy_file
        default = Path("policy.toml")
        return default if default.exists() else None

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @cached_property
    def policy(self) -> Policy:
        """The effective policy; raises PolicyError naming the key when policy.toml is wrong."""
        return load_policy(self.effective_policy_file)[0]


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "temporal_address": "TEMPORAL_ADDRESS",
    "temporal_namespace": "TEMPORAL_NAMESPACE",
}


def load_settings() -> Settings:
    """Settings from the environment, or a SettingsError naming every bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            variable = _ENV_NAMES.get(name, f"MEDIAOPS_{name.upper()}")
            problems.append(f"{variable}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
