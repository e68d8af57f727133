"""Durations and times of day as the policy file writes them ("12h", "3d", "4h30m", "14:30", "24:00").

People edit policy.toml by hand, so the notation is the one they would say aloud, and the same
notation is printed back by `mediaops policy show`.
"""

import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, PlainSerializer

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_duration(value: object) -> timedelta:
    """A positive duration from "3d", "12h", "4h30m", "90s", or a timedelta."""
    if isinstance(value, timedelta):
        parsed = value
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.startswith("-"):
            raise ValueError(f"'{value}' must be a positive duration")
        match = _DURATION.match(text)
        if not text or match is None:
            raise ValueError(f"'{value}' is not a duration like '12h', '3d' or '4h30m'")
        seconds = sum(int(n) * s for n, s in zip(match.groups(), _UNITS.values(), strict=True) if n)
        parsed = timedelta(seconds=seconds)
    else:
        raise ValueError(f"{value!r} is not a duration like '12h', '3d' or '4h30m'")
    if parsed <= timedelta(0):
        raise ValueError(f"'{value}' must be a positive duration")
    return parsed


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_time_of_day(value: object) -> timedelta:
    """An offset from midnight, from "HH:MM"; "24:00" is the end of the day (P-EVENT-DAY-END)."""
    if isinstance(value, timedelta):
        offset = value
    elif isinstance(value, time):
        offset = timedelta(hours=value.hour, minutes=value.minute)
    elif isinstance(value, str) and (match := _TIME_OF_DAY.match(value.strip())):
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes >= 60:
            raise ValueError(f"'{value}' is not a time of day like '14:30'")
        offset = timedelta(hours=hours, minutes=minutes)
    else:
        raise ValueError(f"{value!r} is not a time of day like '14:30'")
    if not timedelta(0) <= offset <= timedelta(hours=24):
        raise ValueError(f"'{value}' is not a time of day between 00:00 and 24:00")
    return offset


def format_time_of_day(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
"""A positive duration, written "12h" in the policy file."""

TimeOfDay = Annotated[
    timedelta, BeforeValidator(parse_time_of_day), PlainSerializer(format_time_of_day, return_type=str)
]
"""A time of day as an offset from local midnight, written "14:30" (up to "24:00")."""


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-14:00 is past the last moment Python can hold
        raise ValueError("the moment is out of range") from None


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A moment: time-zone aware (a naive one is refused: whose 10:00 would it be?), kept in UTC."""
