"""Telling people: a log line always, and a chat webhook (e.g. a WeCom group robot) when configured.

The fact that someone was reminded or a decision escalated is an event the workflow records; this
activity only delivers the message. A webhook that fails is retried by Temporal, every time: a
notification waits until the robot takes it, and the pending activity says why it has not.

A WeCom robot's URL carries its key (`/cgi-bin/webhook/send?key=...`), and whoever has the key can
post to the group, so a failure never shows the URL (R-SECRETS): it says the HTTP status or WeCom's
errcode. WeCom answers HTTP 200 even when it refuses (errcode 93000 for an unknown key), so only
errcode 0 means delivered.
"""

from datetime import timedelta

import httpx
import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.roles import Role
from domain.rules import RuleId
from mediaops.logging import scrub

log = structlog.get_logger(__name__)

ROBOT_ERRORS = {
    93000: "the webhook's key is not a robot's: check MEDIAOPS_NOTIFY_WEBHOOK (was the robot removed?)",
    45009: "the robot's limit of 20 messages a minute is reached",
}
"""What a person can do about WeCom's errcodes; others are reported with WeCom's own errmsg."""
RATE_LIMITED = 45009


class Notification(BaseModel):
    kind: str
    rule: RuleId
    to: Role
    subject: str
    message: str
    user: str | None = None
    """A person told by name besides the role (a promotion's or a write-up's owner)."""


class Notifier:
    def __init__(self, webhook_url: str | None, client: httpx.AsyncClient | None = None) -> None:
        self.webhook_url = webhook_url
        self.client = client or httpx.AsyncClient(timeout=10)

    @activity.defn(name="notify.send")
    async def send(self, notification: Notification) -> None:
        log.info(
            "notification",
            kind=notification.kind,
            rule=notification.rule.value,
            to=notification.to.value,
            user=notification.user,
            subject=notification.subject,
            message=notification.message,
        )
        if not self.webhook_url:
            return
        to = notification.to.value + (f", @{notification.user}" if notification.user else "")
        text = f"[{notification.rule}] {to}: {notification.message}"
        body = {"msgtype": "text", "text": {"content": text}}
        try:
            response = await self.client.post(self.webhook_url, json=body)
        except httpx.HTTPError as exc:
            raise ApplicationError(
                f"could not deliver to the chat webhook: {type(exc).__name__}", type="Notify:transport"
            ) from None
        if response.status_code != 200:
            raise ApplicationError(
                f"the chat webhook answered HTTP {response.status_code}",
                type=f"Notify:{response.status_code}",
            )
        try:
            answer = response.json()
            errcode = int(answer.get("errcode", 0))
        except (ValueError, AttributeError, TypeError):
            raise ApplicationError(
                "the chat webhook answered HTTP 200 without WeCom's JSON (errcode)", type="Notify:not_json"
            ) from None
        if errcode:
            meaning = ROBOT_ERRORS.get(errcode) or scrub(str(answer.get("errmsg", "refused")))[:200]
            raise ApplicationError(
                f"the chat webhook refused the notification: errcode {errcode}, {meaning}",
                type=f"Notify:{errcode}",
                next_retry_delay=timedelta(minutes=1) if errcode == RATE_LIMITED else None,
            )
