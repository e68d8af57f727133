"""The baseline of bench.inquiries: an inquiry's Temporal shape with nothing of ours in it.

A module of its own with nothing but temporalio, because like any workflow it runs in Temporal's
default sandbox, which re-imports the workflow's module for each run, just as it does ours.
"""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BareInquiry")
class BareInquiry:
    """An inquiry's shape and nothing else: 3 activities to record it, the 12-hour timer, a reply
    update that waits for the recording and runs 2 more, then a day's timer for a follow-up."""

    def __init__(self) -> None:
        self.recorded = False
        self.replied = False

    @workflow.run
    async def run(self, text: str) -> None:
        for _ in range(3):
            await workflow.execute_activity(noop, text, start_to_close_timeout=timedelta(seconds=30))
        self.recorded = True
        for timer in (timedelta(hours=12), timedelta(days=1)):
            try:
                await workflow.wait_condition(lambda: self.replied, timeout=timer)
            except TimeoutError:
                return
            self.replied = False

    @workflow.update
    async def reply(self, text: str) -> None:
        await workflow.wait_condition(lambda: self.recorded)
        for _ in range(2):
            await workflow.execute_activity(noop, text, start_to_close_timeout=timedelta(seconds=30))
        self.replied = True
