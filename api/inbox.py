"""What a platform delivered is kept before it is acknowledged, and handed over until it is taken (M12).

A platform that hears "success" does not deliver again, so what it delivered must be durable by
then: `deliver` writes it to the `inbox` table first, then hands it to its inquiry (intake.py) and
marks the row taken. A hand-over that fails (Temporal down or restarting) leaves the row waiting,
and `drain`, which every API process runs in the background, hands it over once Temporal answers.
A row handed over twice (a drain racing a slow first attempt) starts or joins one inquiry: the
intake is idempotent by the platform's message id.
"""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import structlog
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Unreachable
from api.intake import Taken, take_inquiry
from api.state import AppState
from domain.inquiries import InquiryReceived
from domain.text import printable
from eventstore.db import Conn

log = structlog.get_logger(__name__)

HAND_OVER_S = 2.0
"""How long a delivery's request waits on the hand-over before it answers anyway: WeChat gives up
after 5 s and delivers again. A hand-over cut short is idempotent, and the drain finishes it."""
SETTLE = timedelta(seconds=5)
"""A drain leaves a row this young alone: the request that kept it is still handing it over."""
STALE = timedelta(minutes=1)
"""A delivery still waiting after this makes /readyz degraded: the drain is not getting through."""
BATCH = 50
DRAIN_EVERY_S = 2.0
LONGEST_PAUSE_S = 30.0
"""While hand-overs fail, the drain waits twice as long each time, up to this."""


async def deliver(state: AppState, received: InquiryReceived, dedupe_key: str) -> Taken | None:
    """Keep the delivery, then hand it over; None when it is kept for the drain to hand over.

    Only keeping it may fail the request (PostgreSQL down: the platform must deliver again).
    """
    # What a platform sends may hold control characters (a NUL, which jsonb refuses): kept printable.
    received = received.model_copy(
        update={"text": printable(received.text), "user": printable(received.user)}
    )
    pool = await state.database()
    await pool.execute(
        """INSERT INTO inbox (platform, account, dedupe_key, received) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        str(received.platform),
        received.account,
        dedupe_key,
        received.model_dump(mode="json"),
    )
    try:
        return await asyncio.wait_for(_hand_over(state, received, dedupe_key), HAND_OVER_S)
    except Exception as exc:  # whatever stops the hand-over now (or makes it slow), the drain tries again
        await _failed(state, received, dedupe_key, exc)
        log.warning(
            "delivery kept in the inbox, to be handed over when Temporal answers",
            platform=str(received.platform),
            msg_id=received.message_id,
            failure=type(exc).__name__,
        )
        return None


async def _hand_over(state: AppState, received: InquiryReceived, dedupe_key: str) -> Taken:
    taken = await take_inquiry(state, received, dedupe_key=dedupe_key)
    await (await state.database()).execute(
        """UPDATE inbox SET taken_at = now(), workflow_id = $4, attempts = attempts + 1
           WHERE platform = $1 AND account = $2 AND dedupe_key = $3 AND taken_at IS NULL""",
        str(received.platform),
        received.account,
        dedupe_key,
        taken.workflow_id,
    )
    return taken


async def _failed(state: AppState, received: InquiryReceived, dedupe_key: str, exc: Exception) -> None:
    await _failed_row(
        state, {"platform": str(received.platform), "account": received.account}, dedupe_key, exc
    )


async def _failed_row(state: AppState, received: Any, dedupe_key: str, exc: Exception) -> None:
    """Note the attempt and the failure's class on the row (the database may be what failed)."""
    with contextlib.suppress(Exception):
        await (await state.database()).execute(
            """UPDATE inbox SET attempts = attempts + 1, last_failure = $4
               WHERE platform = $1 AND account = $2 AND dedupe_key = $3""",
            str(received.get("platform")),
            str(received.get("account")),
            dedupe_key,
            type(exc).__name__,
        )


def unreachable(exc: Exception) -> bool:
    """Temporal (or PostgreSQL) cannot be reached now: every other row would fail the same way."""
    if isinstance(exc, RPCError):
        return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    return isinstance(exc, Unreachable | OSError)


async def waiting(conn: Conn) -> int:
    """How many kept deliveries have waited longer than a drain round to be handed over."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE taken_at IS NULL AND kept_at < now() - $1::interval",
            STALE,
        )
    )


async def drain(state: AppState) -> int:
    """Hand over what waits in the inbox, the least tried first; how many were taken.

    A row that fails is noted and passed over, so one bad row never holds up the rest; Temporal
    being unreachable stops the round (the rest would fail too), raised for the drain's backoff.
    """
    rows = await (await state.database()).fetch(
        """SELECT dedupe_key, received FROM inbox
           WHERE taken_at IS NULL AND kept_at < now() - $1::interval ORDER BY attempts, kept_at LIMIT $2""",
        SETTLE,
        BATCH,
    )
    taken = 0
    for row in rows:
        key = row["dedupe_key"]
        try:
            received = InquiryReceived.model_validate(row["received"])
            into = await _hand_over(state, received, key)
        except Exception as exc:
            await _failed_row(state, row["received"], key, exc)
            if unreachable(exc):
                raise
            log.warning("inbox delivery not handed over", dedupe_key=key[:64], failure=type(exc).__name__)
            continue
        taken += 1
        log.info("inbox delivery handed over", msg_id=received.message_id, inquiry=into.workflow_id)
    return taken


async def drain_forever(state: AppState) -> None:
    """The API process's inbox drain, until it is cancelled at shutdown: every couple of seconds,
    and while hand-overs fail, after a pause that grows to 30 s (each failure said once per round)."""
    pause = DRAIN_EVERY_S
    while True:
        try:
            await drain(state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            pause = min(pause * 2, LONGEST_PAUSE_S)
            log.warning("inbox drain failed; trying again", failure=type(exc).__name__, in_s=pause)
        else:
            pause = DRAIN_EVERY_S
        await asyncio.sleep(pause)
