"""What an audit leaves in the record: every auditor's read is itself a fact (R-ACCOUNTABLE).

An audit report, a workflow's decoded history and a replay show what people did and said; who
looked at them, and when, is recorded like any other fact, in the reader's own stream.
"""

from typing import Literal

from domain.durations import Instant
from domain.events import REGISTRY, DomainEvent


def audit_stream(reader: str) -> str:
    """The stream of one person's audit reads."""
    return f"audit-{reader}"


@REGISTRY.register
class AuditRead(DomainEvent):
    type: Literal["audit.read"] = "audit.read"
    reader: str
    read: Literal["report", "history", "replay"]
    subject: str
    """The period (`from/to`) or the workflow id read."""
    at: Instant
