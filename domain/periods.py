"""The periods rules are counted over: a day, an ISO week (Monday to Sunday), a month, a quarter.

Every period is a span of the policy's time zone (Asia/Shanghai): a post at 23:59:59 on Sunday,
Beijing time, is in that week; one at 00:00:00 on Monday is in the next, whatever UTC says. A
period has a key people write (`2026-11-30`, `2026-W48`, `2026-11`, `2026-Q4`), and its bounds are
UTC instants `[start, end)`, which is how events are compared with it.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Kind = Literal["day", "week", "month", "quarter"]
KINDS: tuple[Kind, ...] = ("day", "week", "month", "quarter")

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True, order=True)
class Period:
    """A period by its kind and first local day; its bounds follow from the zone."""

    kind: Kind
    first: date
    """The first local day of the period (a Monday for a week, the 1st for a month)."""

    @property
    def last(self) -> date:
        """The last local day of the period."""
        return self.following().first - timedelta(days=1)

    @property
    def key(self) -> str:
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first.year}-{self.first.month:02d}"
        return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"

    def start(self, zone: ZoneInfo) -> datetime:
        """Local midnight of the first day, as a UTC instant."""
        return local(self.first, time(0), zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """Local midnight after the last day (24:00 of it), as a UTC instant: not in the period."""
        return self.following().start(zone)

    def holds(self, instant: datetime, zone: ZoneInfo) -> bool:
        return self.start(zone) <= instant < self.end(zone)

    def following(self) -> "Period":
        if self.kind == "day":
            return Period("day", self.first + timedelta(days=1))
        if self.kind == "week":
            return Period("week", self.first + timedelta(days=7))
        months = 1 if self.kind == "month" else 3
        year, month = divmod(self.first.month - 1 + months, 12)
        return Period(self.kind, date(self.first.year + year, month + 1, 1))

    def previous(self) -> "Period":
        """The period before, which a meeting compares this one with."""
        if self.kind == "day":
            return Period("day", self.first - timedelta(days=1))
        if self.kind == "week":
            return Period("week", self.first - timedelta(days=7))
        months = 1 if self.kind == "month" else 3
        year, month = divmod(self.first.month - 1 - months, 12)
        return Period(self.kind, date(self.first.year + year, month + 1, 1))

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def contains(self, other: "Period") -> bool:
        """Whether `other` lies within this period (a week in a month: its last day is in it)."""
        return self.first <= other.last <= self.last


def local(day: date, at: time | timedelta, zone: ZoneInfo) -> datetime:
    """`day` at a local time of day (a `timedelta` may be 24:00, the next midnight) as UTC."""
    offset = at if isinstance(at, timedelta) else timedelta(hours=at.hour, minutes=at.minute)
    midnight = datetime.combine(day, time(0), zone)
    naive = midnight.replace(tzinfo=None) + offset  # wall-clock arithmetic, then the zone's offset
    return naive.replace(tzinfo=zone).astimezone(UTC)


def containing(kind: Kind, instant: datetime, zone: ZoneInfo) -> Period:
    """The period of `kind` that holds `instant` in `zone`."""
    if instant.tzinfo is None:
        raise ValueError("instants must carry a time zone (stored timestamps are UTC)")
    day = instant.astimezone(zone).date()
    if kind == "day":
        return Period("day", day)
    if kind == "week":
        return Period("week", day - timedelta(days=day.weekday()))
    if kind == "month":
        return Period("month", day.replace(day=1))
    return Period("quarter", date(day.year, (day.month - 1) // 3 * 3 + 1, 1))


def parse(key: str) -> Period:
    """A period from its key: `2026-11-30`, `2026-W48`, `2026-11` or `2026-Q4`; a ValueError
    naming the forms otherwise."""
    text = key.strip()
    try:
        if m := _DAY.match(text):
            return Period("day", date(int(m[1]), int(m[2]), int(m[3])))
        if m := _WEEK.match(text):
            return Period("week", date.fromisocalendar(int(m[1]), int(m[2]), 1))
        if m := _MONTH.match(text):
            return Period("month", date(int(m[1]), int(m[2]), 1))
        if m := _QUARTER.match(text):
            return Period("quarter", date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1))
    except ValueError:
        pass
    raise ValueError(
        f"'{key}' is not a period: a day 2026-11-30, an ISO week 2026-W48, a month 2026-11 "
        "or a quarter 2026-Q4"
    )


def parse_kind(key: str, kind: Kind) -> Period:
    """A period key that must be of `kind` (a weekly report's week)."""
    period = parse(key)
    if period.kind != kind:
        raise ValueError(f"'{key}' is a {period.kind}, not a {kind}")
    return period
