"""Reading comments a platform does not push (WeChat articles, the website, Weibo) on a schedule.

Each run reads the comments since the last run that succeeded (a little before, on purpose) and
starts one inquiry per comment under the comment's own id, `inquiry-<platform>-<comment id>`;
Temporal refuses a second run of an id, so a comment read twice starts one inquiry. A worker that
was down for longer than the interval therefore loses nothing (H10); a first run looks back three
intervals, and no run further than `LONGEST_LOOKBACK`.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.platform_calls import InquiriesRequest, PolledRequest, PollWindowRequest, ThreadsRequest
    from domain.inquiries import InquiryReceived, inquiry_id
    from domain.outcomes import Inbound
    from workflows.contracts import CommentPollRequest, InquiryStart
    from workflows.recording import ACTIVITY_TIMEOUT, HEARTBEAT_TIMEOUT, READ_RETRY, platform_queue


FROM_LAST_SUCCESS = "poll-from-last-success"
"""Runs from here on read from the last successful poll (before: a fixed lookback of 3 intervals)."""
LONGEST_LOOKBACK = timedelta(days=7)
"""How far back a poll reads at most (a technical bound on one run's work, not a rule's duration)."""


@workflow.defn(name="CommentPoll")
class CommentPollWorkflow:
    @workflow.run
    async def run(self, request: CommentPollRequest) -> int:
        """Start an inquiry for each new comment; returns how many were new."""
        every = request.policy.inquiry_12h.comment_poll_every
        began = workflow.now()
        since = began - 3 * every  # overlapping windows: a late or slow run misses nothing
        cursor = workflow.patched(FROM_LAST_SUCCESS)
        if cursor:
            since = await workflow.execute_activity(
                "inquiries.poll_since",
                PollWindowRequest(
                    platform=request.platform,
                    account=request.account,
                    fallback=since,
                    overlap=every,
                    longest=LONGEST_LOOKBACK,
                ),
                result_type=datetime,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=READ_RETRY,
            )
        threads: list[str] = await workflow.execute_activity(
            "inquiries.comment_threads",
            ThreadsRequest(platform=request.platform, account=request.account),
            result_type=list[str],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        comments: list[Inbound] = await workflow.execute_activity(
            "platform.inquiries",
            InquiriesRequest(
                platform=request.platform, account=request.account, threads=threads, since=since
            ),
            result_type=list[Inbound],
            task_queue=platform_queue(request.platform),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        started = 0
        for comment in comments:
            received = InquiryReceived(
                platform=comment.platform,
                account=comment.account,
                message_id=comment.message_id,
                user=comment.user,
                text=comment.text,
                kind=comment.kind,
                thread=comment.thread,
                sent_at=comment.sent_at,
                detected_at=workflow.now(),
            )
            try:
                await workflow.start_child_workflow(
                    "Inquiry",
                    InquiryStart(received=received, policy=request.policy),
                    id=inquiry_id(comment.platform, comment.message_id),
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
                started += 1
            except WorkflowAlreadyStartedError:
                continue
        if cursor:
            await workflow.execute_activity(
                "inquiries.polled",
                PolledRequest(platform=request.platform, account=request.account, until=began),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=READ_RETRY,
            )
        return started
