"""The inquiry workflow (R-INQUIRY-12H): one per user message, `inquiry-<platform>-<message id>`.

Started by the platform callbacks, polling and the API with the message's own id, and refused by
Temporal when that id already ran, so a message delivered twice is one inquiry. It records the
inquiry in the event store; the SLA clock (issue 6) continues from here.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.eventstore import Appended, AppendRequest, EventDraft
    from domain.events import EventMetadata
    from domain.inquiries import InquiryReceived
    from domain.rules import RuleId
    from workflows import search_attributes

RECORD_TIMEOUT = timedelta(seconds=30)
"""How long one attempt to append may take (a technical bound, not a rule's duration)."""


@workflow.defn(name="Inquiry")
class InquiryWorkflow:
    @workflow.run
    async def run(self, received: InquiryReceived) -> None:
        workflow.upsert_search_attributes(
            [
                search_attributes.INQUIRY_STATUS.value_set("open"),
                search_attributes.PLATFORM.value_set(received.platform.value),
            ]
        )
        await workflow.execute_activity(
            "eventstore.append",
            AppendRequest(
                stream_id=workflow.info().workflow_id,
                expected_version=0,
                first_sequence=0,
                events=[EventDraft(type=received.type, data=received.payload())],
                metadata=EventMetadata(
                    actor=f"{received.platform}:{received.user}", rule_ids=(RuleId.INQUIRY_12H,)
                ),
            ),
            result_type=Appended,
            start_to_close_timeout=RECORD_TIMEOUT,
        )
