"""What goes into and comes out of each workflow: start inputs, views returned by queries and updates.

They live apart from the workflow modules because the sandbox re-imports a workflow's module for
every new run: models defined there would be rebuilt (pydantic schemas and all) each time, where
from here, imported through the sandbox's passthrough, they are built once per worker.
"""

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from domain import articles as a
from domain import cadence as c
from domain import department as d
from domain import inquiries as q
from domain import meetings as m
from domain import promotions as p
from domain import writeups as w
from domain.errors import Refusal
from domain.platforms import Platform
from domain.policy import Policy


class ArticleStart(BaseModel):
    submit: dict[str, Any] = Field(description="the author's signed `submit` command (domain/commands.py)")
    accounts: dict[Platform, str]
    policy: Policy | None = Field(
        default=None, description="only in runs from before signed commands; now the worker's policy rules"
    )


class Decision(BaseModel):
    command: str
    actor: str | None
    accepted: bool
    detail: str = ""
    refusal: Refusal | None = None
    """Why it was refused, typed (what the API answers with: its kind, rule and field)."""


class ArticleView(BaseModel):
    article: a.Article
    status: a.Status
    decisions: list[Decision]


class Carried(BaseModel):
    """What a process's run hands the run it continues as (its history grew long): the state its
    events folded to, how many it appended, the policy it runs under, and what waited to be decided."""

    appended: int = Field(ge=0)
    policy: Policy
    follow_ups: list[q.Message] = Field(default_factory=list)
    state: q.Inquiry


class InquiryStart(BaseModel):
    received: q.InquiryReceived
    proof: dict[str, Any] | None = Field(
        default=None,
        description="the intake's signed `receive` command (a comment poll's children need none)",
    )
    policy: Policy | None = Field(
        default=None, description="only in runs from before signed commands; now the worker's policy rules"
    )
    carried: Carried | None = Field(
        default=None, description="set by the run this one continues: it goes on from there"
    )


class InquiryView(BaseModel):
    inquiry: q.Inquiry
    status: str


class CommentPollRequest(BaseModel):
    platform: Platform
    account: str
    policy: Policy


class PromotionStart(BaseModel):
    plan: dict[str, Any] = Field(description="the planner's signed `plan` command (domain/promotions.py)")


class PromotionView(BaseModel):
    promotion: p.Promotion
    decisions: list[Decision]


class WriteUpStart(BaseModel):
    report: dict[str, Any] = Field(description="the reporter's signed `report` command (domain/writeups.py)")


class WriteUpView(BaseModel):
    writeup: w.WriteUp
    decisions: list[Decision]


class CadenceStart(BaseModel):
    subject: c.Subject
    first_day: date = Field(description="the period's first local day (a Monday, the 1st)")


class CadenceView(BaseModel):
    period: c.CadencePeriod


class CadenceDayStart(BaseModel):
    """Nothing: the day is the workflow's (a schedule's run opens the periods of its day)."""


class DepartmentCarried(BaseModel):
    """What the register's run hands the run it continues as: its record and its state."""

    appended: int = Field(ge=0)
    policy: Policy
    state: d.Register


class DepartmentStart(BaseModel):
    carried: DepartmentCarried | None = None


class DepartmentView(BaseModel):
    department: d.Register
    decisions: list[Decision]


class ReportStart(BaseModel):
    kind: m.MeetingKind
    period: str | None = Field(
        default=None, description="the period's key; unset (a schedule's run): the period just over"
    )


class ReportProgress(BaseModel):
    """What the report's run has done so far, for the command line's progress display."""

    kind: m.MeetingKind
    period: str = ""
    steps_done: int = 0
    steps: int = 0
    doing: str = "starting"
    report_id: str | None = None
    digest: str | None = None
    missing: list[str] = Field(default_factory=list)
