"""Telling people: a log line always, and a chat webhook (e.g. a WeCom group robot) when configured.

The fact that someone was reminded or a decision escalated is an event the workflow records; this
activity only delivers the message. A webhook that fails is retried by Temporal.
"""

import httpx
import structlog
from pydantic import BaseModel
from temporalio import activity

from domain.roles import Role
from domain.rules import RuleId

log = structlog.get_logger(__name__)


class Notification(BaseModel):
    kind: str
    rule: RuleId
    to: Role
    subject: str
    message: str


class Notifier:
    def __init__(self, webhook_url: str | None) -> None:
        self.webhook_url = webhook_url

    @activity.defn(name="notify.send")
    async def send(self, notification: Notification) -> None:
        log.info(
            "notification",
            kind=notification.kind,
            rule=notification.rule.value,
            to=notification.to.value,
            subject=notification.subject,
            message=notification.message,
        )
        if not self.webhook_url:
            return
        text = f"[{notification.rule}] {notification.to.value}: {notification.message}"
        body = {"msgtype": "text", "text": {"content": text}}
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self.webhook_url, json=body)
        response.raise_for_status()
