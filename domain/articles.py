"""The article review chain as a decider: every post reviewed, project posts confirmed, published once.

R-REVIEW-ALL: the operations manager reviews every post. R-REVIEW-PROJECT: a post about a company
project is then confirmed by the general manager (R-REVIEW-STRICT: every website post too, as a
policy option; R-CLASSIFIED: general information needs only the manager). R-ACCOUNTABLE: author,
reviewer, source and editor are recorded. An approval is for one version: a revision after an
approval needs approval again, so approving version 1 never publishes version 2.

`decide(command, state)` returns the events a command causes or raises a DomainError naming the
rule; `evolve(state, event)` folds an event into the state. Both are pure: time arrives on the
command, so the same code runs in unit tests, inside the workflow, and in audits.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.commands import Actor
from domain.decider import Decider
from domain.durations import Instant
from domain.errors import DomainError, Forbidden, Invalid
from domain.events import REGISTRY, DomainEvent
from domain.outcomes import PublishOutcome
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Permission, Role, require
from domain.rules import RuleId
from domain.text import Text

Category = Literal["news", "industry_news", "know_how", "recruitment", "promotion", "company_news"]


class Content(BaseModel):
    """One version of an article: what the approvals are given for."""

    model_config = ConfigDict(frozen=True)

    title: Text = Field(min_length=1, max_length=200)
    body: Text = Field(min_length=1, description="HTML")
    category: Category
    involves_company_project: bool = False
    platforms: tuple[Platform, ...] = Field(min_length=1)
    source: Text = ""
    editor: Text = ""
    publish_at: Instant | None = None

    def digest(self) -> str:
        """The content hash an approval is tied to (everything but the publishing time)."""
        fields = self.model_dump(mode="json", exclude={"publish_at"})
        return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Problem(BaseModel):
    rule: RuleId
    message: str


def required_approvals(content: Content, policy: Policy) -> list[Role]:
    """Who must approve this content, in order: the manager always, then the general manager if needed."""
    steps = [policy.review_all.reviewer]
    classified = content.category in policy.classified.categories
    strict = (
        policy.review_strict.enabled
        and not classified
        and any(p in policy.review_strict.platforms for p in content.platforms)
    )
    if content.involves_company_project or strict:
        steps.append(policy.review_project.confirmer)
    return steps


def approval_rule(role: Role, policy: Policy) -> RuleId:
    return RuleId.REVIEW_ALL if role is policy.review_all.reviewer else RuleId.REVIEW_PROJECT


# --- events ----------------------------------------------------------------------------------


@REGISTRY.register
class Submitted(DomainEvent):
    type: Literal["article.submitted"] = "article.submitted"
    article_id: str
    author: str
    version: int
    content: Content
    content_hash: str
    at: Instant
    promotion_id: str | None = None
    """The promotion this article announces (R-PROMO-3D), by its key; kept out of `Content`, so
    the link never changes a content hash an approval was given for."""
    writeup_id: str | None = None
    """The major event this article writes up (R-NEWS-3WD), by its key."""
    column_id: str | None = None
    """The fixed column (固定栏目) this article updates (R-FIXED-MONTHLY), by its id."""


@REGISTRY.register
class Revised(DomainEvent):
    type: Literal["article.revised"] = "article.revised"
    actor: str
    version: int
    content: Content
    content_hash: str
    at: Instant


@REGISTRY.register
class ChecksPassed(DomainEvent):
    """The checks passed; `required` is the approval chain the policy demanded for this version."""

    type: Literal["article.checks_passed"] = "article.checks_passed"
    version: int
    wordlist_version: str
    required: list[Role]


@REGISTRY.register
class ChecksFailed(DomainEvent):
    type: Literal["article.checks_failed"] = "article.checks_failed"
    version: int
    wordlist_version: str
    problems: list[Problem]


@REGISTRY.register
class ReviewRequested(DomainEvent):
    type: Literal["article.review_requested"] = "article.review_requested"
    version: int
    role: Role
    rule: RuleId


@REGISTRY.register
class Approved(DomainEvent):
    type: Literal["article.approved"] = "article.approved"
    version: int
    role: Role
    actor: str
    content_hash: str
    comment: str = ""
    at: Instant


@REGISTRY.register
class ChangesRequested(DomainEvent):
    type: Literal["article.changes_requested"] = "article.changes_requested"
    version: int
    actor: str
    comment: str
    at: Instant


@REGISTRY.register
class Rejected(DomainEvent):
    type: Literal["article.rejected"] = "article.rejected"
    version: int
    actor: str
    comment: str
    at: Instant


@REGISTRY.register
class Withdrawn(DomainEvent):
    type: Literal["article.withdrawn"] = "article.withdrawn"
    actor: str
    reason: str
    at: Instant


@REGISTRY.register
class PublishScheduled(DomainEvent):
    type: Literal["article.publish_scheduled"] = "article.publish_scheduled"
    version: int
    at: Instant


@REGISTRY.register
class PublishStarted(DomainEvent):
    type: Literal["article.publish_started"] = "article.publish_started"
    version: int
    platform: Platform
    content_hash: str


@REGISTRY.register
class PublicationRecorded(DomainEvent):
    """What a platform said: published (url), pending (a handle or a person), failed, or unconfirmed."""

    type: Literal["article.publication_recorded"] = "article.publication_recorded"
    version: int
    platform: Platform
    outcome: PublishOutcome
    reconciled_by: str | None = None
    at: Instant | None = None
    """When it was recorded, the workflow's time: for a published outcome, when the post came out
    there (a manual platform's: when a person reported its URL). Unset in events from before."""


@REGISTRY.register
class Reminded(DomainEvent):
    """P-APPROVAL-REMIND: the pending approver was reminded."""

    type: Literal["article.reminded"] = "article.reminded"
    version: int
    role: Role
    at: Instant


@REGISTRY.register
class Escalated(DomainEvent):
    """P-APPROVAL-REMIND: a decision pending too long was raised with someone else."""

    type: Literal["article.escalated"] = "article.escalated"
    version: int
    role: Role
    to: Role
    at: Instant


ArticleEvent = Annotated[
    Submitted
    | Revised
    | ChecksPassed
    | ChecksFailed
    | ReviewRequested
    | Approved
    | ChangesRequested
    | Rejected
    | Withdrawn
    | PublishScheduled
    | PublishStarted
    | PublicationRecorded
    | Reminded
    | Escalated,
    Field(discriminator="type"),
]


# --- state -----------------------------------------------------------------------------------


class Status(StrEnum):
    CHECKS_FAILED = "checks_failed"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    ATTENTION = "needs_attention"


PublicationState = Literal["pending", "publishing", "published", "failed", "unconfirmed"]


class Publication(BaseModel):
    state: PublicationState = "pending"
    url: str | None = None
    handle: str | None = None
    manual: bool = False
    reason: str | None = None


class Article(BaseModel):
    """The article as its events made it (the initial state has id "" and version 0)."""

    id: str = ""
    author: str = ""
    written_by: str = ""
    """Who wrote the current version: the author, or whoever revised it last (R-ACCOUNTABLE)."""
    version: int = 0
    content: Content | None = None
    content_hash: str = ""
    checked: bool = False
    problems: list[Problem] = Field(default_factory=list)
    approvals: list[Approved] = Field(default_factory=list)
    required: list[Role] = Field(default_factory=list)
    waiting_on: Role | None = None
    closed: Literal["rejected", "withdrawn"] | None = None
    changes_requested: bool = False
    publish_at: Instant | None = None
    publications: dict[Platform, Publication] = Field(default_factory=dict)
    promotion_id: str | None = None
    writeup_id: str | None = None
    column_id: str | None = None

    @property
    def status(self) -> Status:
        if self.closed == "rejected":
            return Status.REJECTED
        if self.closed == "withdrawn":
            return Status.WITHDRAWN
        if self.problems:
            return Status.CHECKS_FAILED
        if self.changes_requested:
            return Status.CHANGES_REQUESTED
        if self.waiting_on is not None or not self.checked:
            return Status.IN_REVIEW
        states = {p.state for p in self.publications.values()}
        if not self.publications or (
            states == {"pending"} and not any(p.handle for p in self.publications.values())
        ):
            return Status.APPROVED
        if states <= {"published"}:
            return Status.PUBLISHED
        if states & {"failed", "unconfirmed"}:
            return Status.ATTENTION
        return Status.PUBLISHING

    @property
    def fully_approved(self) -> bool:
        """Every required role approved *this* version's exact content."""
        approved = {
            a.role
            for a in self.approvals
            if a.version == self.version and a.content_hash == self.content_hash
        }
        return bool(self.required) and set(self.required) <= approved

    def next_approver(self) -> Role | None:
        approved = {a.role for a in self.approvals if a.version == self.version}
        return next((role for role in self.required if role not in approved), None)


def initial_state() -> Article:
    return Article()


def evolve(state: Article, event: DomainEvent) -> Article:
    s = state.model_copy(deep=True)
    match event:
        case Submitted():
            s.id, s.author, s.written_by, s.version = (
                event.article_id,
                event.author,
                event.author,
                event.version,
            )
            s.content, s.content_hash, s.publish_at = (
                event.content,
                event.content_hash,
                event.content.publish_at,
            )
            s.publications = {p: Publication() for p in event.content.platforms}
            s.promotion_id, s.writeup_id = event.promotion_id, event.writeup_id
            s.column_id = event.column_id
        case Revised():
            s.version, s.content, s.content_hash = event.version, event.content, event.content_hash
            s.written_by = event.actor
            s.publish_at = event.content.publish_at
            s.publications = {p: Publication() for p in event.content.platforms}
            s.checked, s.problems, s.changes_requested, s.waiting_on = False, [], False, None
        case ChecksPassed():
            s.checked, s.problems, s.required = True, [], list(event.required)
        case ChecksFailed():
            s.checked, s.problems = True, list(event.problems)
        case ReviewRequested():
            s.waiting_on = event.role
        case Approved():
            s.approvals.append(event)
            s.waiting_on = None
        case ChangesRequested():
            s.changes_requested, s.waiting_on = True, None
        case Rejected():
            s.closed, s.waiting_on = "rejected", None
        case Withdrawn():
            s.closed, s.waiting_on = "withdrawn", None
        case PublishScheduled():
            s.publish_at = event.at
        case PublishStarted():
            s.publications[event.platform] = Publication(state="publishing")
        case PublicationRecorded():
            s.publications[event.platform] = _publication(event.outcome)
    return s


_PUBLICATION_STATE: dict[str, PublicationState] = {
    "published": "published",
    "failed": "failed",
    "unknown": "unconfirmed",
    "pending": "publishing",
}


def _publication(outcome: PublishOutcome) -> Publication:
    state = _PUBLICATION_STATE[outcome.state]
    return Publication(
        state=state, url=outcome.url, handle=outcome.handle, manual=outcome.manual, reason=outcome.reason
    )


def fold(events: Iterable[DomainEvent], state: Article | None = None) -> Article:
    for event in events:
        state = evolve(state or initial_state(), event)
    return state or initial_state()


# --- commands --------------------------------------------------------------------------------


LinkKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
"""A promotion's or an event's key, as the API made it (its workflow is `promotion-<key>`)."""


class Submit(BaseModel):
    kind: Literal["submit"] = "submit"
    article_id: str
    actor: Actor
    content: Content
    at: Instant
    promotion_id: LinkKey | None = None
    writeup_id: LinkKey | None = None
    column_id: LinkKey | None = None


class RecordChecks(BaseModel):
    kind: Literal["record_checks"] = "record_checks"
    version: int
    wordlist_version: str
    problems: list[Problem]
    at: Instant


class Revise(BaseModel):
    kind: Literal["revise"] = "revise"
    actor: Actor
    version: int = Field(description="the version being revised: a stale one is refused")
    content: Content
    at: Instant


class Review(BaseModel):
    kind: Literal["review"] = "review"
    actor: Actor
    version: int
    decision: Literal["approve", "request_changes", "reject"]
    comment: Text = ""
    at: Instant


class Confirm(BaseModel):
    kind: Literal["confirm"] = "confirm"
    actor: Actor
    version: int
    comment: Text = ""
    at: Instant


class Withdraw(BaseModel):
    kind: Literal["withdraw"] = "withdraw"
    actor: Actor
    reason: Text = ""
    at: Instant


class StartPublishing(BaseModel):
    kind: Literal["start_publishing"] = "start_publishing"
    at: Instant


class RecordOutcome(BaseModel):
    kind: Literal["record_outcome"] = "record_outcome"
    platform: Platform
    outcome: PublishOutcome
    at: Instant


class Reconcile(BaseModel):
    kind: Literal["reconcile"] = "reconcile"
    actor: Actor
    platform: Platform
    url: str | None = None
    not_published: bool = False
    at: Instant


class Schedule(BaseModel):
    """Set or move the publishing time; the approved content is unchanged, so no new approval."""

    kind: Literal["schedule"] = "schedule"
    actor: Actor
    publish_at: Instant
    at: Instant


class Remind(BaseModel):
    kind: Literal["remind"] = "remind"
    role: Role
    at: Instant


class Escalate(BaseModel):
    kind: Literal["escalate"] = "escalate"
    role: Role
    at: Instant


PersonCommand = Annotated[
    Revise | Review | Confirm | Withdraw | Reconcile | Schedule, Field(discriminator="kind")
]
"""What a person may ask of a running article; everything else is the workflow's own (checks,
outcomes, publishing, reminders) and is never accepted from outside."""

Command = Annotated[
    Submit
    | RecordChecks
    | Revise
    | Review
    | Confirm
    | Withdraw
    | StartPublishing
    | RecordOutcome
    | Reconcile
    | Schedule
    | Remind
    | Escalate,
    Field(discriminator="kind"),
]


def check_publish_at(publish_at: datetime | None, now: datetime, policy: Policy) -> None:
    """A publishing time a person gives is in the future (clock skew aside) and within the policy's
    horizon: a past one would publish at once what was meant for later, a far one holds it for years."""
    if publish_at is None:
        return
    bounds = policy.accountable
    if publish_at < now - bounds.clock_skew:
        raise Invalid(RuleId.ACCOUNTABLE, "the publishing time is in the past", field="publish_at")
    if publish_at > now + bounds.schedule_within:
        raise Invalid(
            RuleId.ACCOUNTABLE,
            f"the publishing time is more than {bounds.schedule_within.days} days ahead",
            field="publish_at",
        )


def approval_steps(policy: Policy) -> list[tuple[type["Remind"] | type["Escalate"], timedelta]]:
    """What a pending approval does, and how many working hours after it was asked for
    (P-APPROVAL-REMIND): the workflow waits on these, and the console shows when each falls due."""
    remind = policy.approval_remind
    working_day = policy.working_hours.end - policy.working_hours.start
    return [
        (Remind, remind.remind_after_working_hours),
        (Escalate, working_day * remind.escalate_after_working_days),
    ]


def escalation_target(role: Role, policy: Policy) -> Role:
    """A stalled review goes to the general manager; a stalled confirmation is reported to the manager."""
    remind = policy.approval_remind
    return (
        remind.review_escalates_to if role is policy.review_all.reviewer else remind.confirmation_reported_to
    )


_PICTURE = re.compile(r"<img\b[^>]*?\ssrc\s*=\s*(\"[^\"\s]+\"|'[^'\s]+'|[^\s>\"']+)", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def check_link(promotion_id: str | None, writeup_id: str | None, content: Content) -> None:
    """An announcement is a promotion article (R-PROMO-3D); a write-up carries its pictures
    (R-NEWS-3WD); an article is the one or the other. Asked of every version, so a revision
    cannot take away what made the article count."""
    if promotion_id and writeup_id:
        raise Invalid(
            RuleId.ACCOUNTABLE, "an article announces a promotion or writes up an event, not both",
            field="writeup_id",
        )  # fmt: skip
    if promotion_id and content.category != "promotion":
        raise Invalid(
            RuleId.PROMO_3D, "a promotion's announcement has the category promotion", field="category"
        )
    if writeup_id and not _PICTURE.search(_COMMENT.sub("", content.body)):
        raise Invalid(RuleId.NEWS_3WD, "a major event's write-up carries its pictures (<img>)", field="body")


def _open(state: Article, rule: RuleId) -> None:
    if not state.id:
        raise DomainError(rule, "there is no such article")
    if state.closed:
        raise DomainError(rule, f"the article was {state.closed}")


def _current(state: Article, version: int, rule: RuleId) -> None:
    if version != state.version:
        raise DomainError(rule, f"version {version} is not the current version {state.version}")


def _decide_approval(command: Review | Confirm, state: Article, policy: Policy) -> list[DomainEvent]:
    role = policy.review_all.reviewer if isinstance(command, Review) else policy.review_project.confirmer
    rule = approval_rule(role, policy)
    require(
        command.actor.roles,
        Permission.ARTICLE_REVIEW if isinstance(command, Review) else Permission.ARTICLE_CONFIRM,
    )
    _open(state, rule)
    _current(state, command.version, rule)
    _four_eyes(command.actor, state, rule)
    if state.waiting_on is not role:
        waiting = state.waiting_on.value if state.waiting_on else "nobody"
        raise DomainError(rule, f"no {role.value} decision is pending (waiting on {waiting})")
    if isinstance(command, Review) and command.decision == "request_changes":
        if not command.comment.strip():
            raise Invalid(rule, "say what should change", field="comment")
        return [
            ChangesRequested(
                version=state.version, actor=command.actor.id, comment=command.comment, at=command.at
            )
        ]
    if isinstance(command, Review) and command.decision == "reject":
        return [
            Rejected(version=state.version, actor=command.actor.id, comment=command.comment, at=command.at)
        ]
    approved = Approved(
        version=state.version,
        role=role,
        actor=command.actor.id,
        content_hash=state.content_hash,
        comment=command.comment,
        at=command.at,
    )
    after = evolve(state, approved)
    nxt = after.next_approver()
    if nxt is not None:
        return [approved, ReviewRequested(version=state.version, role=nxt, rule=approval_rule(nxt, policy))]
    return [approved, *_schedule(after, command.at)]


def _four_eyes(actor: Actor, state: Article, rule: RuleId) -> None:
    """Separation of duties: an approval is a second person's judgement of someone else's post."""
    if actor.id in (state.author, state.written_by):
        raise Forbidden(rule, "an author cannot review or confirm their own post, nor one they revised")
    if any(x.actor == actor.id for x in state.approvals if x.version == state.version):
        raise Forbidden(rule, "one person cannot give two approvals of the same version")


def _author_or_manager(actor: Actor, state: Article) -> None:
    """Revising, withdrawing and rescheduling a post are its author's, or the manager's (R-ACCOUNTABLE)."""
    if actor.id != state.author:
        require(actor.roles, Permission.ARTICLE_CHANGE_OTHERS)


def _schedule(state: Article, now: datetime) -> list[DomainEvent]:
    if state.publish_at is not None and state.publish_at > now:
        return [PublishScheduled(version=state.version, at=state.publish_at)]
    return []


def _checks(state: Article, command: RecordChecks, policy: Policy) -> list[DomainEvent]:
    _current(state, command.version, RuleId.LAWFUL)
    if command.problems:
        return [
            ChecksFailed(
                version=state.version, wordlist_version=command.wordlist_version, problems=command.problems
            )
        ]
    assert state.content is not None  # noqa: S101 - a submitted article has content
    required = required_approvals(state.content, policy)
    return [
        ChecksPassed(version=state.version, wordlist_version=command.wordlist_version, required=required),
        ReviewRequested(version=state.version, role=required[0], rule=approval_rule(required[0], policy)),
    ]


def decide(command: BaseModel, state: Article, policy: Policy) -> list[DomainEvent]:
    """The events `command` causes, or a DomainError naming the rule that refuses it."""
    match command:
        case Submit():
            require(command.actor.roles, Permission.ARTICLE_SUBMIT)
            if state.id:
                raise DomainError(RuleId.ACCOUNTABLE, f"article {state.id} exists already")
            check_link(command.promotion_id, command.writeup_id, command.content)
            content = command.content.model_copy(
                update={"editor": command.content.editor or command.actor.id}
            )
            return [
                Submitted(
                    article_id=command.article_id,
                    author=command.actor.id,
                    version=1,
                    content=content,
                    content_hash=content.digest(),
                    at=command.at,
                    promotion_id=command.promotion_id,
                    writeup_id=command.writeup_id,
                    column_id=command.column_id,
                )
            ]
        case RecordChecks():
            return _checks(state, command, policy)
        case Revise():
            require(command.actor.roles, Permission.ARTICLE_REVISE)
            _open(state, RuleId.ACCOUNTABLE)
            _author_or_manager(command.actor, state)
            _current(state, command.version, RuleId.ACCOUNTABLE)
            if state.status in (Status.PUBLISHING, Status.PUBLISHED, Status.ATTENTION):
                raise DomainError(
                    RuleId.REVIEW_ALL, "a published article cannot be revised; submit a new one"
                )
            check_link(state.promotion_id, state.writeup_id, command.content)
            return [
                Revised(
                    actor=command.actor.id,
                    version=state.version + 1,
                    content=command.content,
                    content_hash=command.content.digest(),
                    at=command.at,
                )
            ]
        case Review() | Confirm():
            return _decide_approval(command, state, policy)
        case Withdraw():
            require(command.actor.roles, Permission.ARTICLE_WITHDRAW)
            _open(state, RuleId.ACCOUNTABLE)
            _author_or_manager(command.actor, state)
            if state.status in (Status.PUBLISHING, Status.PUBLISHED):
                raise DomainError(RuleId.ACCOUNTABLE, "publishing has started; it can no longer be withdrawn")
            return [Withdrawn(actor=command.actor.id, reason=command.reason, at=command.at)]
        case StartPublishing():
            _open(state, RuleId.REVIEW_ALL)
            if not state.fully_approved:
                raise DomainError(
                    RuleId.REVIEW_ALL, f"version {state.version} is not approved by every required role"
                )
            return [
                PublishStarted(version=state.version, platform=p, content_hash=state.content_hash)
                for p, publication in state.publications.items()
                if publication.state == "pending"
            ]
        case RecordOutcome():
            return [
                PublicationRecorded(
                    version=state.version, platform=command.platform, outcome=command.outcome, at=command.at
                )
            ]
        case Schedule():
            _open(state, RuleId.ACCOUNTABLE)
            _author_or_manager(command.actor, state)
            if state.status in (Status.PUBLISHING, Status.PUBLISHED, Status.ATTENTION):
                raise DomainError(RuleId.ACCOUNTABLE, "publishing has started; the time can no longer change")
            if command.publish_at <= command.at:
                raise Invalid(
                    RuleId.ACCOUNTABLE, "the publishing time must be in the future", field="publish_at"
                )
            return [PublishScheduled(version=state.version, at=command.publish_at)]
        case Remind():
            if state.waiting_on is not command.role:
                return []
            return [Reminded(version=state.version, role=command.role, at=command.at)]
        case Escalate():
            if state.waiting_on is not command.role:
                return []
            to = escalation_target(command.role, policy)
            return [Escalated(version=state.version, role=command.role, to=to, at=command.at)]
        case Reconcile():
            require(command.actor.roles, Permission.ARTICLE_RECONCILE)
            publication = state.publications.get(command.platform)
            if publication is None or publication.state not in ("unconfirmed", "publishing"):
                raise DomainError(
                    RuleId.ACCOUNTABLE, f"nothing on {command.platform} is waiting to be reconciled"
                )
            if publication.state == "publishing" and not publication.manual:
                raise DomainError(
                    RuleId.ACCOUNTABLE, f"{command.platform} is still answering; wait for its result"
                )
            if command.not_published == bool(command.url):
                raise Invalid(
                    RuleId.ACCOUNTABLE, "give either the published URL or not_published", field="url"
                )
            outcome = (
                PublishOutcome(state="published", url=command.url)
                if command.url
                else PublishOutcome(state="failed", code="not_published", reason="reported not published")
            )
            return [
                PublicationRecorded(
                    version=state.version,
                    platform=command.platform,
                    outcome=outcome,
                    reconciled_by=command.actor.id,
                    at=command.at,
                )
            ]
    raise TypeError(f"unknown command {type(command).__name__}")


ARTICLES: Decider[Article] = Decider(initial=initial_state, decide=decide, evolve=evolve)
