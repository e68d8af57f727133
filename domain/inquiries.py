"""Inquiries (R-INQUIRY-12H): every user message on a company platform, recorded and answered.

Each inquiry is one process, identified from the platform's own message id, so the same message
delivered twice is the same inquiry. The 12-hour reply clock, warnings, escalation and replies
grow on this (issue 6); receiving and recording the inquiry is where every one of them starts.
"""

from datetime import datetime
from typing import Literal

from domain.events import REGISTRY, DomainEvent
from domain.platforms import Platform


def inquiry_id(platform: Platform, message_id: str) -> str:
    """The inquiry's workflow id and event stream: `inquiry-<platform>-<platform message id>`."""
    return f"inquiry-{platform}-{message_id}"


@REGISTRY.register
class InquiryReceived(DomainEvent):
    """A user wrote to us: the platform's time and the time we detected it are both kept."""

    type: Literal["inquiry.received"] = "inquiry.received"
    platform: Platform
    account: str
    message_id: str
    user: str
    text: str
    kind: Literal["message", "comment"] = "message"
    thread: str | None = None
    sent_at: datetime
    detected_at: datetime
