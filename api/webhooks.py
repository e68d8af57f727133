"""Platform callbacks: WeChat's server URL (official account and mini program) and Weibo's push.

Each is answered at once (WeChat waits 5 s, then retries 3 times): the signature and freshness
are checked, the message is handed to Temporal under an id derived from it, and `success` goes
back. A callback that is unsigned, stale, or not for this account starts nothing.
"""

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from temporalio.service import RPCError

from activities.platform_calls import publication_waiter
from activities.platforms.accounts import Account, AccountsError
from activities.platforms.wechat import publish_status
from activities.platforms.wechat_crypto import CallbackRejected, WeChatCipher, parse_xml, signature_matches
from api.intake import take_inquiry
from api.state import AppState, app_state
from domain.inquiries import InquiryReceived
from domain.platforms import Platform
from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["platform callbacks"])
State = Annotated[AppState, Depends(app_state)]

MAX_SKEW_S = 300
"""A callback older (or newer) than this is refused: it is a replay, not a delivery."""
MESSAGE_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}


def refused(reason: str, status: int = 403) -> JSONResponse:
    log.warning("callback refused", reason=reason)
    return JSONResponse({"error": "refused", "detail": reason}, status_code=status)


def _account(state: AppState, platform: Platform, name: str) -> Account | None:
    try:
        return state.accounts.get(platform, name)
    except AccountsError:
        return None


def _fresh(timestamp: str) -> bool:
    return timestamp.isdigit() and abs(time.time() - int(timestamp)) <= MAX_SKEW_S


@router.get("/{platform}/{account}", response_class=PlainTextResponse)
async def verify_server_url(
    platform: Platform,
    account: str,
    state: State,
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> Response:
    """WeChat's (and Weibo's) server-URL check: echo `echostr` when the signature holds."""
    acct = _account(state, platform, account)
    if acct is None:
        return refused(f"no {platform} account '{account}'", 404)
    key = acct.secret if platform is Platform.WEIBO else acct.token
    if not signature_matches(signature, key.get_secret_value(), timestamp, nonce):
        return refused("bad signature")
    return PlainTextResponse(echostr)


@router.post("/{platform}/{account}", response_class=PlainTextResponse)
async def receive(
    platform: Platform,
    account: str,
    request: Request,
    state: State,
    signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    encrypt_type: Annotated[str, Query()] = "",
    msg_signature: str = "",
) -> Response:
    acct = _account(state, platform, account)
    if acct is None:
        return refused(f"no {platform} account '{account}'", 404)
    if platform is Platform.WEIBO:
        return await _weibo(state, acct, request, signature, timestamp, nonce)
    if platform not in (Platform.WECHAT, Platform.MINIPROGRAM):
        return refused(f"{platform} does not push to us", 404)
    token = acct.token.get_secret_value()
    if not signature_matches(signature, token, timestamp, nonce):
        return refused("bad signature")
    if not _fresh(timestamp):
        return refused("stale timestamp: a replayed callback")
    try:
        message = parse_xml(await request.body(), force_list=["item"])
        if encrypt_type == "aes":
            encrypted = str(message.get("Encrypt", ""))
            if not signature_matches(msg_signature, token, timestamp, nonce, encrypted):
                return refused("bad msg_signature")
            keys = [k.get_secret_value() for k in acct.aes_keys]
            message = parse_xml(WeChatCipher(keys, acct.appid).decrypt(encrypted), force_list=["item"])
    except (CallbackRejected, ValueError) as exc:
        return refused(str(exc), 400)
    await _dispatch(state, acct, message)
    return PlainTextResponse("success")


async def _dispatch(state: AppState, acct: Account, message: dict[str, Any]) -> None:
    kind = str(message.get("MsgType", ""))
    if kind == "event" and message.get("Event") == "PUBLISHJOBFINISH":
        await _publication_finished(state, acct, message.get("PublishEventInfo") or {})
    elif kind in MESSAGE_TYPES:
        msg_id = str(message.get("MsgId", ""))
        if not msg_id:
            return
        received = InquiryReceived(
            platform=acct.platform,
            account=acct.name,
            message_id=msg_id,
            user=str(message.get("FromUserName", "")),
            text=str(message.get("Content") or f"[{kind}]"),
            sent_at=datetime.fromtimestamp(int(message.get("CreateTime", 0) or 0), UTC),
            detected_at=datetime.now(UTC),
        )
        taken = await take_inquiry(state, received, dedupe_key=msg_id)
        log.info(
            "inquiry received",
            platform=acct.platform.value,
            msg_id=msg_id,
            inquiry=taken.workflow_id,
            taken=taken.how,
        )
    else:
        log.info(
            "callback event ignored", platform=acct.platform.value, msg_type=kind, event=message.get("Event")
        )


WAITER_GRACE_S = 3.0
"""How long a push may wait for its publish call to be written down: WeChat allows 5 s to answer."""


async def _waiter(state: AppState, acct: Account, handle: str) -> str | None:
    """The workflow that published `handle`. The platform can push before the publish call that got
    the id has recorded it (a fast job), so an unknown id is looked up again for a moment."""
    pool = await state.database()
    deadline = asyncio.get_running_loop().time() + WAITER_GRACE_S
    while (workflow_id := await publication_waiter(pool, acct.platform, handle)) is None:
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.1)
    return workflow_id


async def _publication_finished(state: AppState, acct: Account, info: dict[str, Any]) -> None:
    """Forward the platform's word on a publication to the workflow waiting for it."""
    handle = str(info.get("publish_id", ""))
    detail = info.get("article_detail") or {}
    outcome = publish_status(handle, {**info, "article_detail": detail if isinstance(detail, dict) else {}})
    workflow_id = await _waiter(state, acct, handle)
    if workflow_id is None:
        log.warning("publication callback for no known workflow", publish_id=handle)
        return
    update = PublicationUpdate(platform=acct.platform, account=acct.name, handle=handle, outcome=outcome)
    try:
        client = await state.temporal()
        await client.get_workflow_handle(workflow_id).signal(PUBLICATION_FINISHED, update)
    except RPCError as exc:  # the workflow may have finished by polling already: nothing to tell it
        log.info("publication callback not delivered", workflow_id=workflow_id, reason=str(exc))


async def _weibo(
    state: AppState, acct: Account, request: Request, sig: str, timestamp: str, nonce: str
) -> Response:
    """Weibo fan-service push: JSON, signed with the app secret."""
    if not signature_matches(sig, acct.secret.get_secret_value(), timestamp, nonce):
        return refused("bad signature")
    if not _fresh(timestamp):
        return refused("stale timestamp: a replayed callback")
    try:
        body = await request.json()
        sender, created = str(body["sender_id"]), str(body["created_at"])
        sent_at = datetime.strptime(created, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except (ValueError, KeyError, TypeError) as exc:
        return refused(f"not a Weibo message: {exc}", 400)
    message_id = f"{sender}-{int(sent_at.timestamp())}"
    received = InquiryReceived(
        platform=Platform.WEIBO,
        account=acct.name,
        message_id=message_id,
        user=sender,
        text=str(body.get("text", "")),
        sent_at=sent_at,
        detected_at=datetime.now(UTC),
    )
    await take_inquiry(state, received, dedupe_key=message_id)
    return PlainTextResponse("success")
