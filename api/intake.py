"""Turning a user's message, however it arrived, into one inquiry workflow: exactly once."""

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.state import AppState
from domain.inquiries import InquiryReceived, inquiry_id


async def take_inquiry(state: AppState, received: InquiryReceived, dedupe_key: str) -> bool:
    """Start the inquiry's workflow unless this delivery was seen; True when it started now.

    The workflow id comes from the platform's message id and Temporal refuses a second run of it,
    so even two deliveries racing past the table start one workflow. The table is recorded after
    the start: if Temporal is down, the platform's retry of the callback tries again.
    """
    pool = await state.database()
    seen = await pool.fetchval(
        "SELECT 1 FROM inbound_callbacks WHERE platform = $1 AND account = $2 AND dedupe_key = $3",
        str(received.platform),
        received.account,
        dedupe_key,
    )
    if seen:
        return False
    workflow_id = inquiry_id(received.platform, received.message_id)
    client = await state.temporal()
    try:
        await client.start_workflow(
            "Inquiry",
            {"received": received, "policy": state.settings.policy},
            id=workflow_id,
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        started = True
    except WorkflowAlreadyStartedError:
        started = False
    await pool.execute(
        """INSERT INTO inbound_callbacks (platform, account, dedupe_key, workflow_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        str(received.platform),
        received.account,
        dedupe_key,
        workflow_id,
    )
    return started
