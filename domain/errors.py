"""Domain errors: every refusal names the rule that demands it, and says what kind of refusal it is.

The API turns these into 4xx answers and the workflows into typed update failures, so the person
who was refused can look the clause up in the rulebook, and a program can tell a missing right
(forbidden) from a step that is not waiting for it (conflict) from content it must fix (invalid)
without reading the message.
"""

from typing import ClassVar, Literal

from pydantic import BaseModel

from domain.rules import RuleId

RefusalKind = Literal["forbidden", "conflict", "invalid", "unauthenticated"]
"""forbidden: the person may not do this; conflict: not now (a stale version, a step not waiting);
invalid: the content must change; unauthenticated: the command carries no proof of who sent it."""


class DomainError(Exception):
    """A command or a question the rules do not allow or cannot answer (by default: not now)."""

    kind: ClassVar[RefusalKind] = "conflict"

    def __init__(self, rule: RuleId, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.field = field


class Refusal(BaseModel):
    """A refusal as it crosses a boundary (a workflow's update failure, an API answer): typed, not prose."""

    kind: RefusalKind
    rule: RuleId
    message: str
    field: str | None = None
    permission: str | None = None


def refusal_of(error: DomainError) -> Refusal:
    return Refusal(
        kind=error.kind,
        rule=error.rule,
        message=error.message,
        field=error.field,
        permission=getattr(error, "permission", None),
    )


class Invalid(DomainError):
    """The command's content breaks a rule: the person must change it (`field` names what)."""

    kind: ClassVar[RefusalKind] = "invalid"


class Forbidden(DomainError):
    """This person may not do this to this process, whatever their roles (e.g. separation of duties)."""

    kind: ClassVar[RefusalKind] = "forbidden"


class Unauthenticated(DomainError):
    """The command does not prove who sent it: unsigned, forged, replayed, expired, or no such user."""

    kind: ClassVar[RefusalKind] = "unauthenticated"


class PermissionDenied(Forbidden):
    """The actor's roles do not grant the permission the action needs."""

    def __init__(self, rule: RuleId, permission: str, roles: frozenset[str]) -> None:
        held = ", ".join(sorted(roles)) or "no role"
        super().__init__(rule, f"permission '{permission}' is not granted to {held}")
        self.permission = permission


class CalendarYearUnknown(DomainError):
    """China's official calendar for this year has not been published (or not installed) yet.

    Working-day arithmetic must not guess silently: the caller either surfaces this error or
    explicitly accepts a Monday-to-Friday fallback that is flagged on the result.
    """

    def __init__(self, year: int) -> None:
        super().__init__(
            RuleId.NEWS_3WD,
            f"China's official working-day calendar for {year} is not known to this installation "
            "(upgrade chinesecalendar, or accept the flagged Monday-to-Friday fallback)",
        )
        self.year = year
