"""Configuration from the environment, validated once at start-up.

Every process (API, worker, CLI) reads the same settings so they agree on which PostgreSQL and
which Temporal they use. A bad value stops start-up with a message that names the variable.
"""

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import Policy, load_policy
from mediaops.keys import Keys, load_keys

Environment = Literal["development", "test", "production"]

EMBEDDED_OWNER = "mediaops"
"""The embedded PostgreSQL's superuser: it owns the schema and runs the migrations, nothing else."""
APP_ROLE = "mediaops_app"
"""The role the worker and the API connect as (migration 0008 grants it what they need, no more)."""


def embedded_password_file(home: Path, role: str) -> Path:
    """Where the embedded PostgreSQL's generated password for `role` is kept (0600, by deploy/postgres.py)."""
    return home / f"pg-{role}.password"


class SettingsError(ValueError):
    """The environment holds a value that cannot be used; the message names each variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIAOPS_", extra="ignore", frozen=True)

    env: Environment = "development"
    home: Path = Field(default=Path(".mediaops"), description="state kept between runs (embedded data)")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "MEDIAOPS_DATABASE_URL"),
        description="an external PostgreSQL, as the application role; unset: the embedded one",
    )
    database_admin_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_ADMIN_URL", "MEDIAOPS_DATABASE_ADMIN_URL"),
        description="the external PostgreSQL as the schema's owner, for migrations; unset: DATABASE_URL",
    )
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "MEDIAOPS_TEMPORAL_ADDRESS"),
        description="an external Temporal frontend host:port; unset: the embedded dev server",
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "MEDIAOPS_TEMPORAL_NAMESPACE")
    )
    temporal_tls_cert: Path | None = Field(default=None, description="mTLS: this client's certificate (PEM)")
    temporal_tls_key: Path | None = Field(default=None, description="mTLS: this client's private key (PEM)")
    temporal_tls_ca: Path | None = Field(
        default=None, description="the CA that signed Temporal's certificate; unset: the system's roots"
    )
    temporal_tls_server_name: str | None = Field(
        default=None, description="the name on Temporal's certificate, when it is not the address's host"
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="an API key for Temporal (e.g. Temporal Cloud), sent over TLS"
    )
    worker_ops_port: int = Field(
        default=9464, ge=1, le=65535, description="`make run`: the worker's /metrics, /healthz, /readyz"
    )
    api_ops_port: int = Field(default=9465, ge=1, le=65535, description="`make run`: the API's /metrics")
    metrics_address: str | None = Field(
        default=None,
        description="host:port of this process's /metrics, /healthz and /readyz for ops; unset: none",
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
    temporal_ui_origin: str | None = Field(
        default=None, description="the Temporal UI's origin, for the codec endpoint; unset: the embedded UI"
    )
    keys_file: Path | None = Field(
        default=None, description="the codec and command keys (TOML, 0600); unset: MEDIAOPS_HOME/keys.toml"
    )
    codec_keys: SecretStr | None = Field(default=None, description="`id:base64url,...`, current first")
    command_keys: SecretStr | None = Field(default=None, description="`id:base64url,...`, current first")
    update_timeout_s: float = Field(
        default=30.0, gt=0, description="how long the API waits on a workflow's answer before a 503"
    )
    query_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description="how long a read waits on a workflow's own answer before it takes the read model's",
    )
    log_format: Literal["console", "json"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url", "database_admin_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// connection URL")
        return value or None

    @field_validator("database_admin_url")
    @classmethod
    def _admin_of_an_external_server(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and not info.data.get("database_url"):
            raise ValueError("is for an external PostgreSQL: set DATABASE_URL (the application role's) too")
        return value

    @field_validator("temporal_address", "metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port, e.g. 127.0.0.1:7233")
        return value

    @model_validator(mode="after")
    def _client_certificate_whole(self) -> "Settings":
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                "MEDIAOPS_TEMPORAL_TLS_CERT and MEDIAOPS_TEMPORAL_TLS_KEY go together: a client "
                "certificate is useless without its key"
            )
        return self

    @property
    def temporal_tls(self) -> bool:
        """Whether Temporal is reached over TLS: a client certificate, a CA or an API key asks for it."""
        return bool(
            self.temporal_tls_cert
            or self.temporal_tls_ca
            or self.temporal_api_key
            or self.temporal_tls_server_name
        )

    def production_problems(self, *, database: bool = True) -> list[str]:
        """What keeps these settings from running in production, each naming its setting (empty: none).

        Production runs on a Temporal cluster and a PostgreSQL server of its own, reaches Temporal
        over TLS only (R-SECRETS: histories and commands cross the network), reads its keys from a
        place an operator chose (never keys generated into a local folder) and logs JSON.
        """
        if self.env != "production":
            return []
        problems = []
        if self.embedded_temporal:
            problems.append(
                "TEMPORAL_ADDRESS: production runs on a Temporal cluster, not the embedded dev server"
            )
        if database and self.embedded_postgres:
            problems.append("DATABASE_URL: production runs on a PostgreSQL server, not the embedded one")
        if not (self.temporal_tls_cert or self.temporal_api_key):
            problems.append(
                "MEDIAOPS_TEMPORAL_TLS_CERT and MEDIAOPS_TEMPORAL_TLS_KEY (mTLS), or "
                "MEDIAOPS_TEMPORAL_API_KEY: production reaches Temporal over TLS only, and proves "
                "who it is to it"
            )
        if self.keys_file is None and (self.codec_keys is None or self.command_keys is None):
            problems.append(
                "MEDIAOPS_CODEC_KEYS and MEDIAOPS_COMMAND_KEYS (or MEDIAOPS_KEYS_FILE): production reads "
                "its keys from where the operator put them"
            )
        if self.log_format == "console":
            problems.append("MEDIAOPS_LOG_FORMAT: production logs JSON, for the log collector")
        return problems

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def dsn(self) -> str:
        """The application role's URL (worker, API, CLI): DATABASE_URL, or the embedded `mediaops_app`."""
        return self.database_url or self._embedded_url(APP_ROLE)

    @property
    def admin_dsn(self) -> str:
        """The schema owner's URL, for migrations and set-up only (never passed to the worker or the
        API): DATABASE_ADMIN_URL, else DATABASE_URL, else the embedded superuser."""
        return self.database_admin_url or self.database_url or self._embedded_url(EMBEDDED_OWNER)

    def _embedded_url(self, role: str) -> str:
        """The embedded server's URL for `role`, with the password `mediaops up` generated for it.

        Read on every use, not cached: `mediaops up` writes the files when it first starts the
        server, which may be after these settings were loaded. Before that the URL has no password,
        and connecting fails with PostgreSQL's own "password authentication failed".
        """
        try:
            password = embedded_password_file(self.home, role).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            password = ""
        user = f"{role}:{quote(password, safe='')}" if password else role
        return f"postgresql://{user}@127.0.0.1:{self.pg_port}/mediaops"

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

    @property
    def codec_origins(self) -> tuple[str, ...]:
        """Where the Temporal UI runs: the only origins allowed to call the codec endpoint (CORS)."""
        if self.temporal_ui_origin:
            return (self.temporal_ui_origin,)
        port = self.temporal_ui_port
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")

    @property
    def effective_keys_file(self) -> Path:
        return self.keys_file or self.home / "keys.toml"

    @cached_property
    def keys(self) -> Keys:
        """The codec and command keyrings; raises KeysError naming the file or variable."""

        def value(secret: SecretStr | None) -> str | None:
            return secret.get_secret_value() if secret is not None else None

        return load_keys(self.effective_keys_file, value(self.codec_keys), value(self.command_keys))

    @cached_property
    def policy(self) -> Policy:
        """The effective policy; raises PolicyError naming the key when policy.toml is wrong."""
        return load_policy(self.effective_policy_file)[0]


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "database_admin_url": "DATABASE_ADMIN_URL",
    "temporal_address": "TEMPORAL_ADDRESS",
    "temporal_namespace": "TEMPORAL_NAMESPACE",
}


SECRETS_DIR = "MEDIAOPS_SECRETS_DIR"
"""A folder of files named after the variables they set (`database_url`, `mediaops_codec_keys`, ...):
how Compose and Kubernetes hand secrets to a process without putting them in its environment."""


def load_settings() -> Settings:
    """Settings from the environment (and MEDIAOPS_SECRETS_DIR), or a SettingsError naming every bad one."""
    secrets_dir = os.environ.get(SECRETS_DIR) or None
    if secrets_dir is not None and not Path(secrets_dir).is_dir():
        raise SettingsError(f"invalid configuration: {SECRETS_DIR}: {secrets_dir} is not a folder")
    try:
        return Settings(_secrets_dir=secrets_dir)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            variable = _ENV_NAMES.get(name, f"MEDIAOPS_{name.upper()}") if name else ""
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable}: {message}" if variable else message)
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
