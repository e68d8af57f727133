"""Recorded histories keep replaying (determinism), and a non-deterministic change is caught.

A change to a running workflow's logic must go behind `workflow.patched`; if it does not, these
replays fail in CI before any running article can be broken by a deploy.
"""

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from mediaops.temporal import data_converter
from tests.replay.keys import REPLAY_KEYS
from workflows.article import ArticleWorkflow
from workflows.cadence import CadenceWorkflow
from workflows.contracts import ArticleStart, ArticleView
from workflows.department import DepartmentWorkflow
from workflows.inquiry import InquiryWorkflow
from workflows.promotion import PromotionWorkflow
from workflows.report import ReportWorkflow
from workflows.writeup import WriteUpWorkflow

HERE = Path(__file__).parent
HISTORIES = sorted(HERE.glob("*.json"))
DATA_CONVERTER = data_converter(REPLAY_KEYS)


def history(path: Path) -> WorkflowHistory:
    """The history under the workflow id tests/replay/record.py ran it as (workflows check their id)."""
    if path.stem.startswith("article"):
        workflow_id = f"article-{path.stem.replace('_', '-')}"
    elif path.stem.startswith(("promotion_", "writeup_")):
        kind, key = path.stem.split("_", 1)
        workflow_id = f"{kind}-{key.replace('_', '-')}"
    elif path.stem == "cadence_website_missed":
        workflow_id = "cadence-website-missed"
    elif path.stem == "report_weekly":
        workflow_id = "report-weekly"
    elif path.stem == "department_register":
        workflow_id = "department"
    else:
        workflow_id = f"inquiry-{path.stem}"
    return WorkflowHistory.from_json(workflow_id, path.read_text())


def test_the_reference_histories_are_present() -> None:
    assert {p.stem for p in HISTORIES} == {
        "article_happy_path",
        "article_changes_requested_then_revised",
        "article_general_manager",
        "article_unknown_outcome_reconciled",
        "inquiry_answered_within_sla",
        "inquiry_breached_then_answered",
        "inquiry_closed_as_spam",
        "inquiry_reopened",  # recorded after the follow-ups patch; the three above are from before it
        "article_forged_then_signed",  # recorded after signed commands; every one above is from before
        "inquiry_signed_reply",
        "article_local_steps",  # recorded after local steps (and every patch before them)
        "inquiry_local_steps",
        "article_linked_to_promotion",  # an announcement that wakes its promotion
        "promotion_met",
        "promotion_breached",
        "promotion_rescheduled",
        "promotion_cancelled",
        "writeup_met",
        "writeup_breached",
        "writeup_corrected",
        "cadence_website_missed",  # at risk on Sunday 20:00, missed at 24:00
        "report_weekly",
        "department_register",  # an owner and an action item, the register still open
    }


def test_the_linked_article_woke_its_promotion() -> None:
    """It guards the wake-ups: a signal to the promotion, sent after what the article recorded."""
    events = history(HERE / "article_linked_to_promotion.json").events
    sent = [e for e in events if e.HasField("signal_external_workflow_execution_initiated_event_attributes")]
    assert sent
    assert {e.signal_external_workflow_execution_initiated_event_attributes.workflow_execution.workflow_id
            for e in sent} == {"promotion-rescheduled"}  # fmt: skip
    assert any(e.HasField("external_workflow_execution_signaled_event_attributes") for e in events)


@pytest.mark.parametrize("name", ["article_local_steps", "inquiry_local_steps"])
def test_the_newest_histories_took_the_local_steps(name: str) -> None:
    """They guard the `local-steps` branch: recorded after it, with its marker and local activities."""
    events = history(HERE / f"{name}.json").events
    markers = [
        e.marker_recorded_event_attributes for e in events if e.HasField("marker_recorded_event_attributes")
    ]
    patches = [m.details["patch-data"].payloads[0].data for m in markers if m.marker_name == "core_patch"]
    assert any(b"local-steps" in p for p in patches)
    assert any(m.marker_name == "core_local_activity" for m in markers)


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_histories_replay(path: Path) -> None:
    replayer = Replayer(
        workflows=[
            ArticleWorkflow,
            InquiryWorkflow,
            PromotionWorkflow,
            WriteUpWorkflow,
            CadenceWorkflow,
            DepartmentWorkflow,
            ReportWorkflow,
        ],
        data_converter=DATA_CONVERTER,
    )
    await replayer.replay_workflow(history(path))


@workflow.defn(name="Article", sandboxed=False)
class CheckSkippingArticle(ArticleWorkflow):
    """A careless edit: the content check no longer runs as an activity (no `workflow.patched`)."""

    @workflow.run
    async def run(self, start: ArticleStart) -> ArticleView:
        return await super().run(start)

    async def check(self) -> None:
        from domain.articles import RecordChecks

        await self.handle(
            RecordChecks(version=self.state.version, wordlist_version="none", problems=[], at=workflow.now())
        )


async def test_a_non_deterministic_change_is_caught() -> None:
    replayer = Replayer(workflows=[CheckSkippingArticle], data_converter=DATA_CONVERTER)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history(HERE / "article_happy_path.json"))
