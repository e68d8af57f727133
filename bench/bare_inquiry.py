"""The baseline of bench.inquiries: an inquiry's Temporal shape with nothing of ours in it.

A module of its own with nothing but temporalio, because like any workflow it runs in Temporal's
default sandbox, which re-imports the workflow's module for each run, just as it does ours.
"""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

CALL_TIMEOUT = timedelta(seconds=30)


@dataclass
class BareStart:
    """The same timers as an inquiry's, taken from the policy by the caller."""

    reply_within: timedelta
    reopen_within: timedelta


@activity.defn(name="bench.noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BareInquiry")
class BareInquiry:
    """An inquiry's shape and nothing else: 3 activities to record it, the reply timer, a reply
    update that waits for the recording and runs 2 more, then the follow-up timer."""

    def __init__(self) -> None:
        self.recorded = False
        self.replied = False

    @workflow.run
    async def run(self, start: BareStart) -> None:
        for _ in range(3):
            await workflow.execute_activity(noop, "x", start_to_close_timeout=CALL_TIMEOUT)
        self.recorded = True
        for timer in (start.reply_within, start.reopen_within):
            try:
                await workflow.wait_condition(lambda: self.replied, timeout=timer)
            except TimeoutError:
                return
            self.replied = False

    @workflow.update
    async def reply(self, text: str) -> None:
        await workflow.wait_condition(lambda: self.recorded)
        for _ in range(2):
            await workflow.execute_activity(noop, text, start_to_close_timeout=CALL_TIMEOUT)
        self.replied = True
