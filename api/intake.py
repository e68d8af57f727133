"""Turning a user's message, however it arrived, into one inquiry workflow: exactly once.

A direct message from a user who already has an inquiry in progress (open, or answered less than
`R-INQUIRY-12H.reopen_within` ago) goes to that inquiry, which keeps it or reopens with a new clock;
otherwise it starts an inquiry of its own. Comments stay one inquiry each (each is answered where it
was written), and phone or mail inquiries carry a name, not a platform's user id, so they are not
joined either.
"""

from dataclasses import dataclass
from typing import Literal

import asyncpg
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.state import AppState
from domain.commands import SYSTEM
from domain.inquiries import InquiryReceived, Message, digest, inquiry_id
from domain.platforms import Platform
from domain.text import printable
from eventstore.users import User
from workflows.contracts import InquiryStart


@dataclass(frozen=True)
class Taken:
    """Where a message went: `started` a new inquiry, `joined` the user's, or `seen` before."""

    workflow_id: str
    how: Literal["started", "joined", "seen"]


async def take_inquiry(
    state: AppState, received: InquiryReceived, dedupe_key: str, recorded_by: User | None = None
) -> Taken:
    """Hand the message to its inquiry unless this delivery was seen.

    What a platform delivered (its signature checked by the webhook, or read by a poll) goes with
    the intake's proof; what a person records (`recorded_by`, POST /inquiries) goes signed as theirs
    and never joins a platform conversation (it would reopen one with a clock of its choosing).

    A new inquiry's workflow id comes from the platform's message id and Temporal refuses a second
    run of it, so even two deliveries racing past the table start one workflow; the workflow keeps
    the ids of the messages it holds, so a joined message counted twice is kept once. The table is
    written after the hand-over: if Temporal is down, the platform's retry of the callback tries again.
    """
    received = received.model_copy(
        update={"text": printable(received.text), "user": printable(received.user)}
    )
    pool = await state.database()
    seen = await pool.fetchval(
        "SELECT workflow_id FROM inbound_callbacks WHERE platform = $1 AND account = $2 AND dedupe_key = $3",
        str(received.platform),
        received.account,
        dedupe_key,
    )
    if seen:
        return Taken(seen, "seen")
    joined = await _join(state, pool, received) if recorded_by is None else None
    taken = joined or await _start(state, received, recorded_by)
    await pool.execute(
        """INSERT INTO inbound_callbacks (platform, account, dedupe_key, workflow_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        str(received.platform),
        received.account,
        dedupe_key,
        taken.workflow_id,
    )
    return taken


def _proof(
    state: AppState, workflow_id: str, command: dict[str, object], by: User | None
) -> dict[str, object]:
    """The intake's word for a delivery (channel `intake`), or the recording person's (channel `api`)."""
    signed = state.signer.sign(
        process=workflow_id,
        actor=by.id if by else SYSTEM,
        roles=by.roles if by else (),
        command=command,
        channel="api" if by else "intake",
    )
    return signed.model_dump(mode="json")


async def _start(state: AppState, received: InquiryReceived, by: User | None) -> Taken:
    workflow_id = inquiry_id(received.platform, received.message_id)
    proof = _proof(state, workflow_id, {"kind": "receive", "digest": digest(received)}, by)
    client = await state.temporal()
    try:
        await client.start_workflow(
            "Inquiry",
            InquiryStart(received=received, proof=proof),
            id=workflow_id,
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return Taken(workflow_id, "seen")
    return Taken(workflow_id, "started")


async def _join(state: AppState, pool: asyncpg.Pool, received: InquiryReceived) -> Taken | None:
    """Signal the user's inquiry in progress, if there is one still running."""
    if received.kind != "message" or received.platform not in set(Platform):
        return None
    reopen_within = state.settings.policy.inquiry_12h.reopen_within
    candidate = await pool.fetchval(
        """SELECT id FROM inquiries
           WHERE platform = $1 AND account = $2 AND "user" = $3 AND kind = 'message'
             AND (status IN ('open', 'at_risk', 'breached')
                  OR (status = 'answered' AND answered_at > $4::timestamptz - $5::interval))
           ORDER BY updated_at DESC LIMIT 1""",
        str(received.platform),
        received.account,
        received.user,
        received.detected_at,
        reopen_within,
    )
    if candidate is None:
        return None
    handle = (await state.temporal()).get_workflow_handle(candidate)
    try:
        message = Message(message_id=received.message_id, text=received.text, sent_at=received.sent_at)
        command = {"kind": "user_wrote", **message.model_dump(mode="json")}
        await handle.signal("user_wrote", _proof(state, candidate, command, None))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # it has ended: the message starts anew
            return None
        raise
    return Taken(candidate, "joined")
