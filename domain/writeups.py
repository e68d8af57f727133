"""Major event write-ups (R-NEWS-3WD): a major company event or news is written up, with its
pictures, and published within 3 working days after it ends.

Each reported event is one process, `writeup-<id>`. The write-up is due at 24:00 Beijing time of
the 3rd working day after the event ends (P-EVENT-DAY-END), on China's calendar with its make-up
days; a year the calendar does not know gives a guessed due time, flagged as such. The owner is
reminded at the end of the first working day (P-NEWS-REMIND) with what is still missing. The
write-up is an article linked to the event (its pictures are checked with the article, R-NEWS-3WD);
the rule is met when it is published on every required platform by the due time, and breached
and escalated to the operations manager otherwise. The event's end can be corrected, also after a
verdict (a wrong end made a wrong due time): the due time is then asked for again, what is out is
judged against it, and the rule is judged anew at it; the earlier verdict stays in the record.

`decide`/`evolve` are pure: the due times come in on `SetDue`, which the workflow asks the calendar
activity for (working days depend on China's calendar, which changes when it is upgraded).
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.announcements import (
    Announcement,
    ArticleLinked,
    Broken,
    Kept,
    Obligation,
    Progress,
    Published,
    PublishedOn,
    Stage,
    Tick,
    amends,
    first_publication,
    late_by_s,
    linked,
    moved,
    published,
    rejudged,
    stuck,
    unpublished,
)
from domain.commands import Actor
from domain.decider import Decider
from domain.durations import Instant, format_duration
from domain.errors import DomainError, Invalid
from domain.events import REGISTRY, DomainEvent
from domain.platforms import Platform
from domain.policy import Policy
from domain.roles import Permission, require
from domain.rules import RuleId
from domain.text import Text


def writeup_id(key: str) -> str:
    """The write-up's workflow id and event stream."""
    return f"writeup-{key}"


# --- events ---------------------------------------------------------------------------------------


@REGISTRY.register
class EventReported(DomainEvent):
    """A major event (or company news) that must be written up; its due time follows (`WriteUpDue`)."""

    type: Literal["writeup.reported"] = "writeup.reported"
    writeup_id: str
    name: str
    ends_at: Instant
    platforms: tuple[Platform, ...]
    owner: str
    by: str
    at: Instant


@REGISTRY.register
class WriteUpDue(DomainEvent):
    """When the write-up is due (and reminded), for the event's current end; `flagged`: a guess."""

    type: Literal["writeup.due"] = "writeup.due"
    ends_at: Instant
    due: Instant
    remind_at: Instant
    flagged_years: tuple[int, ...] = ()


@REGISTRY.register
class WriteUpLinked(ArticleLinked):
    type: Literal["writeup.article_linked"] = "writeup.article_linked"


@REGISTRY.register
class WriteUpPublished(PublishedOn):
    type: Literal["writeup.published"] = "writeup.published"


@REGISTRY.register
class WriteUpReminded(DomainEvent):
    """P-NEWS-REMIND: the owner is told what is still missing at the end of the first working day."""

    type: Literal["writeup.reminded"] = "writeup.reminded"
    missing: dict[Platform, Stage | Literal["no_article"]]
    to: str
    at: Instant


@REGISTRY.register
class WriteUpMet(Kept):
    """R-NEWS-3WD kept."""

    type: Literal["writeup.met"] = "writeup.met"


@REGISTRY.register
class WriteUpBreached(Broken):
    """R-NEWS-3WD broken: no write-up on these platforms by the due time."""

    type: Literal["writeup.breached"] = "writeup.breached"


@REGISTRY.register
class EndCorrected(DomainEvent):
    """The event ended at another time: its due time is asked for again."""

    type: Literal["writeup.end_corrected"] = "writeup.end_corrected"
    ends_at: Instant
    by: str
    at: Instant


# --- state ----------------------------------------------------------------------------------------


Status = Literal["open", "published", "met", "breached"]
"""`published`: out everywhere required, before the verdict."""


class WriteUp(Obligation):
    ends_at: Instant | None = None
    due: Instant | None = None
    remind_at: Instant | None = None
    flagged_years: tuple[int, ...] = ()
    reminded: bool = False

    @property
    def reported(self) -> bool:
        return self.ends_at is not None

    @property
    def due_flagged(self) -> bool:
        """The due time was guessed on a Monday-to-Friday calendar (a year China's is not known for)."""
        return bool(self.flagged_years)

    @property
    def status(self) -> Status:
        if self.verdict is not None:
            return self.verdict
        return "published" if self.platforms and not self.missing() else "open"


def initial_writeup() -> WriteUp:
    return WriteUp()


def evolve_writeup(state: WriteUp, event: DomainEvent) -> WriteUp:
    s = state.model_copy(deep=True)
    match event:
        case EventReported():
            s.id, s.name, s.ends_at, s.owner = event.writeup_id, event.name, event.ends_at, event.owner
            s.platforms = {p: Announcement() for p in event.platforms}
        case WriteUpDue():
            s.due, s.remind_at, s.flagged_years = event.due, event.remind_at, event.flagged_years
            s.platforms = rejudged(s.platforms, event.due)
        case WriteUpLinked():
            s.platforms = linked(s.platforms, event.article_id, event.platforms, event.stage)
        case WriteUpPublished():
            if event.platform in s.platforms:
                judge_by = s.due or event.published_at  # no due time yet: judged once it comes
                s.platforms[event.platform] = published(event.article_id, event.published_at, judge_by)
        case WriteUpReminded():
            s.reminded = True
        case WriteUpMet():
            s.verdict = "met"
        case WriteUpBreached():
            s.verdict = "breached"
        case EndCorrected():
            s.ends_at, s.due, s.remind_at, s.flagged_years = event.ends_at, None, None, ()
            s.reminded, s.verdict = False, None
    return s


# --- commands -------------------------------------------------------------------------------------


class Report(BaseModel):
    kind: Literal["report"] = "report"
    actor: Actor
    writeup_id: str
    name: Text = Field(min_length=1, max_length=120)
    ends_at: Instant
    platforms: tuple[Platform, ...] | None = None
    owner: str | None = None
    at: Instant


class SetDue(BaseModel):
    """Internal: the calendar's answer for the event's current end."""

    kind: Literal["set_due"] = "set_due"
    ends_at: Instant
    due: Instant
    remind_at: Instant
    flagged_years: tuple[int, ...] = ()


class CorrectEnd(BaseModel):
    kind: Literal["correct_end"] = "correct_end"
    actor: Actor
    ends_at: Instant
    at: Instant


def _check_end(ends_at: datetime, now: datetime, policy: Policy) -> None:
    if ends_at > now + policy.accountable.schedule_within:
        raise Invalid(
            RuleId.NEWS_3WD,
            f"the event ends more than {format_duration(policy.accountable.schedule_within)} ahead",
            field="ends_at",
        )


def decide_writeup(command: BaseModel, state: WriteUp, policy: Policy) -> list[DomainEvent]:
    match command:
        case Report():
            require(command.actor.roles, Permission.COVERAGE_REPORT)
            if state.reported:
                raise DomainError(RuleId.NEWS_3WD, "the event is reported already")
            _check_end(command.ends_at, command.at, policy)
            platforms = tuple(dict.fromkeys(command.platforms or policy.news_3wd.platforms))
            if not platforms:
                raise Invalid(RuleId.NEWS_3WD, "name at least one platform", field="platforms")
            return [
                EventReported(
                    writeup_id=command.writeup_id,
                    name=command.name,
                    ends_at=command.ends_at,
                    platforms=platforms,
                    owner=command.owner or command.actor.id,
                    by=command.actor.id,
                    at=command.at,
                )
            ]
        case SetDue():
            if not state.reported:
                raise DomainError(RuleId.NEWS_3WD, "no such event")
            if command.ends_at != state.ends_at or state.due is not None:
                return []  # an answer for an end since corrected (its own follows), or given already
            return [WriteUpDue(ends_at=command.ends_at, due=command.due, remind_at=command.remind_at,
                               flagged_years=command.flagged_years)]  # fmt: skip
        case Progress():
            _reported(state)
            on = moved(state.platforms, command)
            return [WriteUpLinked(article_id=command.article_id, platforms=on, stage=command.stage,
                                  at=command.at)] if on else []  # fmt: skip
        case Published():
            _reported(state)
            if not first_publication(state.platforms, command):
                return []  # not a required platform, or out there already: the first counts
            late = None if state.due is None else late_by_s(command.published_at, state.due)
            out = WriteUpPublished(platform=command.platform, article_id=command.article_id,
                                   published_at=command.published_at, late_by_s=late)  # fmt: skip
            if state.verdict == "breached" and amends(state.platforms, command, state.due):
                return [out, WriteUpMet(at=command.published_at, after_breach=True)]
            return [out]
        case Tick():
            return _due(state, command.at)
        case CorrectEnd():
            require(command.actor.roles, Permission.COVERAGE_REPORT)
            _reported(state)
            _check_end(command.ends_at, command.at, policy)
            if command.ends_at == state.ends_at:
                return []
            return [EndCorrected(ends_at=command.ends_at, by=command.actor.id, at=command.at)]
    raise TypeError(f"not a write-up command: {type(command).__name__}")


def _reported(state: WriteUp) -> None:
    if not state.reported:
        raise DomainError(RuleId.NEWS_3WD, "no such event")


def _due(state: WriteUp, now: datetime) -> list[DomainEvent]:
    """The reminder once its time came (if something is missing), then the verdict at the due time."""
    if state.due is None or state.remind_at is None or state.verdict is not None:
        return []
    events: list[DomainEvent] = []
    if now >= state.due:
        absent = tuple(state.missing())
        events.append(WriteUpBreached(missing=absent, at=now) if absent else WriteUpMet(at=now))
    elif now >= state.remind_at and unpublished(state.platforms) and not state.reminded:
        events.append(WriteUpReminded(missing=stuck(state.platforms), to=state.owner, at=now))
    return events


def next_due(state: WriteUp) -> datetime | None:
    """When the write-up's workflow must next decide (`Tick`); None when judged or no due time yet."""
    if state.due is None or state.remind_at is None or state.verdict is not None:
        return None
    if unpublished(state.platforms) and not state.reminded and state.remind_at < state.due:
        return state.remind_at
    return state.due


WRITEUPS: Decider[WriteUp] = Decider(initial=initial_writeup, decide=decide_writeup, evolve=evolve_writeup)
