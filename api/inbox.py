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

import structlog

from api.intake import Taken, take_inquiry
from api.state import AppState
from domain.inquiries import InquiryReceived
from eventstore.db import Conn

log = structlog.get_logger(__name__)

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
        return await _hand_over(state, received, dedupe_key)
    except Exception as exc:  # whatever stops the hand-over now, the drain tries again
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
    with contextlib.suppress(Exception):  # the database may be what failed; the row waits either way
        await (await state.database()).execute(
            """UPDATE inbox SET attempts = attempts + 1, last_failure = $4
               WHERE platform = $1 AND account = $2 AND dedupe_key = $3""",
            str(received.platform),
            received.account,
            dedupe_key,
            type(exc).__name__,
        )


async def waiting(conn: Conn) -> int:
    """How many kept deliveries have waited longer than a drain round to be handed over."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE taken_at IS NULL AND kept_at < now() - $1::interval",
            STALE,
        )
    )


async def drain(state: AppState) -> int:
    """Hand over what waits in the inbox, oldest first; how many were taken. The first failure
    stops the round (Temporal is down for the rest too) and is raised."""
    rows = await (await state.database()).fetch(
        """SELECT dedupe_key, received FROM inbox
           WHERE taken_at IS NULL AND kept_at < now() - $1::interval ORDER BY kept_at LIMIT $2""",
        SETTLE,
        BATCH,
    )
    for row in rows:
        received = InquiryReceived.model_validate(row["received"])
        try:
            taken = await _hand_over(state, received, row["dedupe_key"])
        except Exception as exc:
            await _failed(state, received, row["dedupe_key"], exc)
            raise
        log.info("inbox delivery handed over", msg_id=received.message_id, inquiry=taken.workflow_id)
    return len(rows)


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
