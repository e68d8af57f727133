"""Platform callbacks: WeChat's server URL (official account and mini program) and Weibo's push.

Each is answered at once (WeChat waits 5 s, then retries 3 times). Before anything starts, the
callback has to prove it is the platform's, to this account, now:
- signed with the account's key (an account without one does not load; see `_not_found`);
- fresh (MAX_SKEW_S), and its (timestamp, nonce) not used before: each pair is taken once, in
  PostgreSQL, so every API process refuses a signature any of them accepted;
- in safe mode when the account has AES keys, so a leaked signature cannot carry plain XML;
- addressed to the account: `ToUserName` is its original id (gh_...), and in safe mode the appid
  inside the encrypted body is its appid;
- well formed: a field that does not parse is a 400, never a 500 and never a guessed value.
Then the message is handed to Temporal under an id derived from it, and `success` goes back.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.service import RPCError

from activities.platform_calls import publication_waiter
from activities.platforms.accounts import Account, AccountsError
from activities.platforms.wechat import publish_status
from activities.platforms.wechat_crypto import CallbackRejected, WeChatCipher, parse_xml, signature_matches
from api.inbox import deliver
from api.state import AppState, app_state
from domain.inquiries import InquiryReceived
from domain.platforms import Platform
from workflows.signals import PUBLICATION_FINISHED, PublicationUpdate

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["platform callbacks"])
State = Annotated[AppState, Depends(app_state)]

MAX_SKEW_S = 60
"""How far a callback's timestamp may be from our clock. WeChat's three tries span 15 s, so a
minute leaves room for clock drift; anything further off is a replay, not a delivery. A used
(timestamp, nonce) has to be remembered only this long."""
NONCE_KEPT_S = 2 * MAX_SKEW_S
"""Used pairs are deleted once their timestamp is this old: twice the window, so an API process
whose clock is behind another's by less than the window never deletes a pair that one would still
accept."""
MAX_MESSAGE_AGE_S = 24 * 3600
"""The oldest send time a pushed message may carry. Platforms push as the user writes; a message
dated a day back (or 1970) would open an inquiry already past its deadline."""
MESSAGE_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}


def refused(reason: str, status: int = 403, account: Account | None = None) -> JSONResponse:
    """A refusal, logged with the account only once it is known to be a configured one (whose name
    is checked against a safe pattern), never with a name taken from the path."""
    where = {"platform": account.platform.value, "account": account.name} if account else {}
    log.warning("callback refused", reason=reason, **where)
    return JSONResponse({"error": "refused", "detail": reason}, status_code=status)


def _not_found(platform: Platform, reason: str, account: Account | None = None) -> JSONResponse:
    """The one answer to a callback that has not shown it knows the account's key.

    An unknown account, one whose platform never pushes, one without a key (never hashed: a
    signature over an empty key is anyone's to make), and a wrong signature all look alike, so the
    callback URL cannot be used to find out which accounts exist. The log says which it was, but
    names only a configured account: the path's name is whatever the caller typed, terminal
    escapes included.
    """
    where = {"account": account.name} if account else {}
    log.warning("callback refused", reason=reason, platform=platform.value, **where)
    return JSONResponse({"error": "not found"}, status_code=404)


def _authenticated(
    state: AppState, platform: Platform, name: str, sig: str, timestamp: str, nonce: str
) -> Account | JSONResponse:
    """The account, when the callback is signed with its key and fresh; else the refusal."""
    try:
        acct = state.accounts.get(platform, name)
    except AccountsError:
        return _not_found(platform, "no such account")
    key = acct.callback_key()
    if key is None or not key.get_secret_value():
        return _not_found(platform, "the account has no callback key", acct)
    if not signature_matches(sig, key.get_secret_value(), timestamp, nonce):
        return _not_found(platform, "bad signature", acct)
    fresh = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    if not (fresh and abs(time.time() - int(timestamp)) <= MAX_SKEW_S):
        return refused("stale timestamp: a replayed callback", account=acct)
    if not (1 <= len(nonce) <= 64 and nonce.isascii() and nonce.isprintable()):
        return refused("a callback needs a nonce of 1 to 64 printable characters", account=acct)
    return acct


async def _once(
    state: AppState,
    acct: Account,
    timestamp: str,
    nonce: str,
    hand_over: Callable[[], Awaitable[None]] | None = None,
) -> JSONResponse | None:
    """Take the callback's (timestamp, nonce), then hand it over; the refusal if it was taken before.

    Pairs too old to be fresh are deleted in the same statement, so the table holds a few minutes
    of callbacks. If the hand-over fails (Temporal or PostgreSQL down), the pair is given back: the
    platform delivers again, perhaps with the same pair, and that delivery must not be refused.
    """
    pool = await state.database()
    pair = (acct.platform.value, acct.name, int(timestamp), nonce)
    taken = await pool.fetchval(
        """WITH pruned AS (DELETE FROM callback_nonces WHERE signed_at < $5)
           INSERT INTO callback_nonces (platform, account, signed_at, nonce) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        *pair,
        int(time.time()) - NONCE_KEPT_S,
    )
    if not taken:
        return refused("this timestamp and nonce were used before: a replayed callback", account=acct)
    if hand_over is None:
        return None
    try:
        await hand_over()
    except Exception:
        await pool.execute(
            """DELETE FROM callback_nonces
               WHERE platform = $1 AND account = $2 AND signed_at = $3 AND nonce = $4""",
            *pair,
        )
        raise
    return None


def _malformed(exc: ValidationError) -> str:
    """What did not parse, by field name only: the values are the caller's."""
    fields = sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()})
    return f"malformed callback: {', '.join(fields)}"


def _sent_at(seconds: int) -> datetime:
    """A pushed message's send time, when it is one a platform could have pushed now."""
    now = time.time()
    if not now - MAX_MESSAGE_AGE_S <= seconds <= now + MAX_SKEW_S:
        raise ValueError("the send time is more than a day old, or in the future")
    return datetime.fromtimestamp(seconds, UTC)


class _Pushed(BaseModel):
    model_config = ConfigDict(frozen=True)


class _WeChatMessage(_Pushed):
    """A user's message as WeChat pushes it (the fields an inquiry is made of)."""

    sender: str = Field(alias="FromUserName", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    sent_at: datetime = Field(alias="CreateTime")
    msg_id: str = Field(alias="MsgId", pattern=r"^\d{1,20}$")
    content: str = Field(default="", alias="Content")

    @field_validator("sent_at", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: object) -> datetime:
        if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10):
            raise ValueError("CreateTime is seconds since the epoch")
        return _sent_at(int(value))


class _ArticleItem(_Pushed):
    article_url: str = Field(max_length=2048)


class _ArticleDetail(_Pushed):
    item: list[_ArticleItem] = []


class _PublishEventInfo(_Pushed):
    """PUBLISHJOBFINISH's PublishEventInfo; an empty element (`<article_detail/>`) is absent."""

    publish_id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    publish_status: int = Field(ge=0)
    article_id: str = Field(default="", max_length=128)
    article_detail: _ArticleDetail | None = None

    @field_validator("article_detail", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        return None if value == "" else value


class _PublishJobFinish(_Pushed):
    info: _PublishEventInfo = Field(alias="PublishEventInfo")


class _WeiboMessage(_Pushed):
    """A fan's private message as Weibo pushes it (JSON)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # Weibo's ids are JSON numbers

    sender_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    created_at: datetime
    text: str = ""

    @field_validator("created_at", mode="before")
    @classmethod
    def _weibo_time(cls, value: object) -> datetime:
        if not isinstance(value, str):
            raise ValueError("created_at is Weibo's text time")
        sent = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
        return _sent_at(int(sent.timestamp()))


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
    acct = _authenticated(state, platform, account, signature, timestamp, nonce)
    if isinstance(acct, Response):
        return acct
    refusal = await _once(state, acct, timestamp, nonce)
    return refusal or PlainTextResponse(echostr)


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
    """A pushed message or event: `success` once it is handed over (or was before)."""
    acct = _authenticated(state, platform, account, signature, timestamp, nonce)
    if isinstance(acct, Response):
        return acct
    if platform is Platform.WEIBO:
        hand_over: Callable[[], Awaitable[None]] | JSONResponse = await _weibo(state, acct, request)
    else:
        hand_over = await _wechat(state, acct, request, timestamp, nonce, encrypt_type, msg_signature)
    if isinstance(hand_over, JSONResponse):
        return hand_over
    return await _once(state, acct, timestamp, nonce, hand_over) or PlainTextResponse("success")


async def _wechat(
    state: AppState,
    acct: Account,
    request: Request,
    timestamp: str,
    nonce: str,
    encrypt_type: str,
    msg_signature: str,
) -> Callable[[], Awaitable[None]] | JSONResponse:
    """The WeChat (or mini program) message, decrypted and checked, as its hand-over."""
    if acct.aes_keys and encrypt_type != "aes":
        return refused("this account is in safe mode: a plain callback is a downgrade", account=acct)
    token = acct.token.get_secret_value()
    try:
        message = parse_xml(await request.body(), force_list=["item"])
        if encrypt_type == "aes":
            if not acct.aes_keys:
                return refused("this account has no EncodingAESKey for safe mode", 400, acct)
            encrypted = str(message.get("Encrypt", ""))
            if not signature_matches(msg_signature, token, timestamp, nonce, encrypted):
                return refused("bad msg_signature", account=acct)
            keys = [k.get_secret_value() for k in acct.aes_keys]
            message = parse_xml(WeChatCipher(keys, acct.appid).decrypt(encrypted), force_list=["item"])
    except CallbackRejected as exc:
        return refused(str(exc), 400, acct)
    if message.get("ToUserName") != acct.original_id:
        return refused("ToUserName is not this account's original id", account=acct)
    try:
        return _wechat_hand_over(state, acct, message)
    except ValidationError as exc:
        return refused(_malformed(exc), 400, acct)


def _wechat_hand_over(
    state: AppState, acct: Account, message: dict[str, Any]
) -> Callable[[], Awaitable[None]]:
    """What to do with a checked message; ValidationError when a field it needs does not parse."""
    kind = str(message.get("MsgType", ""))
    if kind == "event" and message.get("Event") == "PUBLISHJOBFINISH":
        info = _PublishJobFinish.model_validate(message).info
        return partial(_publication_finished, state, acct, info)
    if kind in MESSAGE_TYPES:
        pushed = _WeChatMessage.model_validate(message)
        received = InquiryReceived(
            platform=acct.platform,
            account=acct.name,
            message_id=pushed.msg_id,
            user=pushed.sender,
            text=pushed.content or f"[{kind}]",
            sent_at=pushed.sent_at,
            detected_at=datetime.now(UTC),
        )
        return partial(_take, state, received)
    return partial(_ignore, acct, kind, str(message.get("Event", "")))


async def _take(state: AppState, received: InquiryReceived) -> None:
    """Kept in the inbox before the platform hears "success", then handed to its inquiry."""
    taken = await deliver(state, received, dedupe_key=received.message_id)
    log.info(
        "inquiry received",
        platform=str(received.platform),
        msg_id=received.message_id,
        inquiry=taken.workflow_id if taken else None,
        taken=taken.how if taken else "kept",
    )


async def _ignore(acct: Account, kind: str, event: str) -> None:
    """An event we take no action on (a follow, a menu click): acknowledged, so WeChat does not retry."""
    log.info("callback event ignored", platform=acct.platform.value, msg_type=kind[:32], event=event[:32])


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


async def _publication_finished(state: AppState, acct: Account, info: _PublishEventInfo) -> None:
    """Forward the platform's word on a publication to the workflow waiting for it."""
    handle = info.publish_id
    items = info.article_detail.item if info.article_detail else []
    outcome = publish_status(
        handle,
        {
            "publish_status": info.publish_status,
            "article_id": info.article_id,
            "article_detail": {"item": [item.model_dump() for item in items]},
        },
    )
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
    state: AppState, acct: Account, request: Request
) -> Callable[[], Awaitable[None]] | JSONResponse:
    """Weibo's fan-service push (JSON, signed with the app secret), as its hand-over."""
    try:
        pushed = _WeiboMessage.model_validate_json(await request.body())
    except ValidationError as exc:
        return refused(_malformed(exc), 400, acct)
    message_id = f"{pushed.sender_id}-{int(pushed.created_at.timestamp())}"
    received = InquiryReceived(
        platform=Platform.WEIBO,
        account=acct.name,
        message_id=message_id,
        user=pushed.sender_id,
        text=pushed.text,
        sent_at=pushed.created_at,
        detected_at=datetime.now(UTC),
    )
    return partial(_take, state, received)
