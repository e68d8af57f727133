from datetime import timedelta

import pytest

from domain.durations import format_duration, format_time_of_day, parse_duration, parse_time_of_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12h", timedelta(hours=12)), ("3d", timedelta(days=3)), ("4h30m", timedelta(hours=4, minutes=30))],
)
def test_duration_round_trip(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


@pytest.mark.parametrize("bad", ["", "-2h", "0h", "12", "twelve hours", "h", 12])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_time_of_day() -> None:
    assert parse_time_of_day("14:30") == timedelta(hours=14, minutes=30)
    assert parse_time_of_day("24:00") == timedelta(hours=24)
    assert format_time_of_day(timedelta(hours=9)) == "09:00"
    for bad in ("25:00", "9:61", "noon"):
        with pytest.raises(ValueError, match="time of day"):
            parse_time_of_day(bad)
