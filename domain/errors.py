"""Domain errors: every refusal names the rule that demands it.

The API turns these into 4xx answers and the workflows into update-validator refusals, so the
person who was refused can look the clause up in the rulebook.
"""

from domain.rules import RuleId


class DomainError(Exception):
    """A command or a question the rules do not allow or cannot answer."""

    def __init__(self, rule: RuleId, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class PermissionDenied(DomainError):
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
