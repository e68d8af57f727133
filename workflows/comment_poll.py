"""Reading comments a platform does not push (WeChat articles, the website, Weibo) on a schedule.

Each run reads the comments of a lookback window and starts one inquiry per comment under the
comment's own id, `inquiry-<platform>-<comment id>`; Temporal refuses a second run of an id, so a
comment read twice (the windows overlap on purpose, so none is missed) starts one inquiry.
"""

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.platform_calls import InquiriesRequest, ThreadsRequest
    from domain.inquiries import InquiryReceived, inquiry_id
    from domain.outcomes import Inbound
    from workflows.contracts import CommentPollRequest, InquiryStart
    from workflows.recording import ACTIVITY_TIMEOUT, platform_queue


@workflow.defn(name="CommentPoll")
class CommentPollWorkflow:
    @workflow.run
    async def run(self, request: CommentPollRequest) -> int:
        """Start an inquiry for each new comment; returns how many were new."""
        every = request.policy.inquiry_12h.comment_poll_every
        since = workflow.now() - 3 * every  # overlapping windows: a late or slow run misses nothing
        threads: list[str] = await workflow.execute_activity(
            "inquiries.comment_threads",
            ThreadsRequest(platform=request.platform, account=request.account),
            result_type=list[str],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        comments: list[Inbound] = await workflow.execute_activity(
            "platform.inquiries",
            InquiriesRequest(
                platform=request.platform, account=request.account, threads=threads, since=since
            ),
            result_type=list[Inbound],
            task_queue=platform_queue(request.platform),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
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
        return started
