"""structlog for every process: readable in development, JSON in production, secrets redacted.

R-SECRETS: platform credentials and tokens must never reach a log line, so redaction is a
processor on the one pipeline every log record passes through (ours, the libraries', Temporal's),
not a habit each call site has to remember. Two nets, because neither catches everything alone:
- patterns for what a credential looks like where it travels: a query or form field
  (`access_token=`, `key=`, `secret=`, `appsecret=`, `password=` ...), an `Authorization`
  credential (Basic, Bearer), a password in a URL, our own API tokens;
- the exact values this process loaded (platform accounts, secret settings), registered with
  `register_secret` when they are loaded, so a secret is hidden even where nothing names it.
Exceptions are rendered to text *before* redaction, so their messages and tracebacks are scrubbed
like any other value. `scrub` is the same redactor for text that leaves the process another way
(a platform error's message becomes an outcome, an event and a Temporal history).
"""

import base64
import binascii
import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import structlog
from pydantic import BaseModel, SecretStr

from mediaops.keys import KeysError
from mediaops.settings import Settings

REDACTED = "[redacted]"
SHORTEST_SECRET = 4
"""Shorter registered values are ignored: they occur in ordinary text too often to be told apart."""

_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|authorization|api[_-]?key|app[_-]?key|aes[_-]?key|credential|cookie)",
    re.IGNORECASE,
)
_CREDENTIAL_FIELD = re.compile(
    r"\b(?P<name>\w*?(?:token|key|secret|passwd|password))"
    r"(?P<sep>=|[\"']?\s*:\s*[\"'])"
    r"(?P<value>[^&\s\"'<>,;()\[\]{}]+)",
    re.IGNORECASE,
)
"""`name=value` in a query string or form, and `"name": "value"` in JSON or a Python repr."""
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:@/\s]+:)[^@\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"\bBearer\s+\S+", re.IGNORECASE)
_BASIC = re.compile(r"\bBasic\s+(?P<credential>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])", re.IGNORECASE)
_API_TOKEN = re.compile(r"\bmo_[A-Za-z0-9_-]{20,}")

_registered: set[str] = set()
_exact: re.Pattern[str] | None = None


def register_secret(value: str | SecretStr) -> None:
    """Redact `value` exactly, from now on, wherever it appears (also URL- and JSON-escaped)."""
    global _exact
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if len(text) < SHORTEST_SECRET:
        return
    forms = {text, quote(text, safe=""), quote_plus(text), json.dumps(text)[1:-1]}
    if forms <= _registered:
        return
    _registered.update(forms)
    # Longest first, so a secret that contains another is hidden whole.
    _exact = re.compile("|".join(re.escape(v) for v in sorted(_registered, key=len, reverse=True)))


def register_secrets(model: BaseModel) -> None:
    """Register every SecretStr a loaded model holds (at any depth), e.g. a platform account."""
    for name in type(model).model_fields:
        _register_value(getattr(model, name))


def _register_value(value: object) -> None:
    if isinstance(value, SecretStr):
        register_secret(value)
    elif isinstance(value, BaseModel):
        register_secrets(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _register_value(item)


def _register_url_secrets(url: str | None) -> None:
    """A URL's password and query values (a WeCom robot's `key`) are secrets of their own."""
    if not url:
        return
    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
    for _name, value in parse_qsl(parts.query):
        register_secret(value)


def _hide_basic(match: re.Match[str]) -> str:
    """A Basic credential is base64 of `user:password`; other words after "Basic" are left alone."""
    try:
        decoded = base64.b64decode(match["credential"], validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"Basic {REDACTED}" if b":" in decoded else match.group(0)


def scrub(text: str) -> str:
    """`text` with every registered secret and every credential-looking value masked."""
    if _exact is not None:
        text = _exact.sub(REDACTED, text)
    text = _CREDENTIAL_FIELD.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}@", text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    text = _BASIC.sub(_hide_basic, text)
    return _API_TOKEN.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking keys and values masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, BaseException):  # logged as a value (error=exc): its text, scrubbed
        return scrub(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor form of `redact`."""
    return redact(event_dict)  # type: ignore[no-any-return]


def _temporal_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift the workflow and activity ids temporalio attaches to its log records to top-level keys."""
    record = event_dict.get("_record")
    for attr in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, attr, None) if record is not None else None
        if isinstance(details, Mapping):
            for key in ("workflow_id", "run_id", "workflow_type", "activity_id", "activity_type", "attempt"):
                if key in details and key not in event_dict:
                    event_dict[key] = details[key]
    return event_dict


def _drop_color_message(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn sends an ANSI-coloured copy of each message as an extra; the message itself suffices."""
    event_dict.pop("color_message", None)
    return event_dict


def _register_keys(settings: Settings) -> None:
    """The codec and command keys too, as they are spelled in the keys file (when there is one yet)."""
    try:
        keys = settings.keys
    except KeysError:
        return  # no keys yet (`mediaops up` creates them): nothing to hide
    for ring in (keys.codec, keys.commands):
        for spelled in ring.spelled():
            register_secret(spelled.partition(":")[2])


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (uvicorn, temporalio, asyncpg) through one pipeline.

    The settings' own secrets (SecretStr fields, the database password, the notification
    webhook's key) are registered for exact redaction here, since every process passes here first.
    """
    register_secrets(settings)
    _register_url_secrets(settings.dsn)
    _register_url_secrets(settings.notify_webhook)
    _register_keys(settings)
    level = getattr(logging, settings.log_level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
        _drop_color_message,
        structlog.processors.format_exc_info,  # the traceback as text, so the redactor sees it
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.effective_log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
