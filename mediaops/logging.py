"""structlog for every process: readable in development, JSON in production, secrets redacted.

R-SECRETS: platform credentials and tokens must never reach a log line, so redaction is a
processor on the one pipeline every log record passes through (ours, the libraries', Temporal's),
not a habit each call site has to remember.
"""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from mediaops.settings import Settings

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|authorization|api[_-]?key|app[_-]?key|aes[_-]?key|credential|cookie)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(r"(Bearer\s+\S+|mo_[A-Za-z0-9_-]{20,}|postgres(?:ql)?://[^:@/\s]+:[^@\s]+@)")


def _scrub_text(value: str) -> str:
    def hide(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("postgres"):
            user = text.split("://", 1)[1].split(":", 1)[0]
            return f"{text.split('://', 1)[0]}://{user}:{REDACTED}@"
        return REDACTED

    return _SECRET_VALUE.sub(hide, value)


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
        return _scrub_text(value)
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


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (uvicorn, temporalio, asyncpg) through one pipeline."""
    level = getattr(logging, settings.log_level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
        _drop_color_message,
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
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
