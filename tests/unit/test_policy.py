"""The policy: RULEBOOK defaults, validated overrides, and `mediaops policy show`."""

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from domain.platforms import Platform
from domain.policy import Policy, PolicyError, load_policy, overridden_keys, policy_from_mapping
from domain.roles import Role
from domain.rules import RuleId

# Rules that state a principle with nothing to tune: they are enforced by content checks and
# permissions, not parameters, so `policy show` has nothing to list for them.
PARAMETERLESS = {"R-LAWFUL", "R-NO-INSIDE", "R-NO-PERSONAL", "R-DESIGN"}


RULEBOOK = Path(__file__).resolve().parents[2] / "docs" / "RULEBOOK.md"
"""The project's own copy of the department's rulebook: the catalogue the code must match."""


def rulebook_ids() -> set[str]:
    text = RULEBOOK.read_text(encoding="utf-8")
    return set(re.findall(r"\*\*([RP]-[A-Z0-9-]+)\*\*", text))


def test_catalogue_matches_the_rulebook() -> None:
    assert rulebook_ids() == {r.value for r in RuleId}


def test_defaults_are_the_rulebooks() -> None:
    p = Policy()
    assert p.timezone == "Asia/Shanghai"
    assert p.review_all.reviewer is Role.OPERATIONS_MANAGER
    assert p.review_project.confirmer is Role.GENERAL_MANAGER
    assert p.review_strict.enabled is False
    assert p.inquiry_12h.within == timedelta(hours=12)
    assert p.promo_3d.lead == timedelta(days=3)
    assert p.news_3wd.within_working_days == 3
    assert p.cadence_web.min_per_week == 3
    assert (p.weekly.weekday, p.weekly.at) == ("monday", timedelta(hours=14, minutes=30))
    assert (p.monthly.day_of_month, p.monthly.at) == (1, timedelta(hours=14, minutes=30))
    assert (p.working_hours.start, p.working_hours.end) == (timedelta(hours=9), timedelta(hours=18))
    assert p.approval_remind.remind_after_working_hours == timedelta(hours=4)
    assert p.approval_remind.escalate_after_working_days == 1
    assert p.inquiry_warn.lead == timedelta(hours=2)
    assert p.reply_window.windows == {
        Platform.WECHAT: timedelta(hours=48),
        Platform.WEIBO: timedelta(hours=72),
    }
    assert p.reply_window.escalate_before == timedelta(hours=6)
    assert p.promo_remind.before_start == (timedelta(days=7), timedelta(days=5))
    assert p.cadence_check.at_risk_at == timedelta(hours=20)
    assert p.event_day_end.at == timedelta(hours=24)


def test_every_rule_with_parameters_is_in_the_policy() -> None:
    in_policy = {rule.value for rule, _ in Policy().rule_params()}
    assert in_policy == rulebook_ids() - PARAMETERLESS


def test_overrides_apply_and_are_tracked(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('["R-INQUIRY-12H"]\nwithin = "8h"\n["R-REVIEW-STRICT"]\nenabled = true\n')
    policy, overrides = load_policy(path)
    assert policy.inquiry_12h.within == timedelta(hours=8)
    assert policy.review_strict.enabled is True
    assert policy.promo_3d.lead == timedelta(days=3)
    assert {"R-INQUIRY-12H.within", "R-REVIEW-STRICT.enabled"} <= overridden_keys(overrides)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"R-NOPE": {"x": 1}}, "unknown rule id 'R-NOPE'"),
        ({"R-INQUIRY-12H": {"within": "-3h"}}, "R-INQUIRY-12H.within: '-3h' must be a positive duration"),
        ({"R-INQUIRY-12H": {"whithin": "3h"}}, "R-INQUIRY-12H.whithin: unknown parameter"),
        ({"R-REVIEW-ALL": {"reviewer": "boss"}}, "R-REVIEW-ALL.reviewer"),
        ({"R-PROMO-3D": {"platforms": ["wechat", "myspace"]}}, "R-PROMO-3D.platforms.1"),
        ({"P-WORKING-HOURS": {"start": "19:00"}}, "P-WORKING-HOURS: Value error, start must be before end"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy_from_mapping(data, "policy.toml")
    assert named.replace("Value error, ", "") in str(caught.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[R-INQUIRY-12H\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


def test_policy_show_lists_every_rule_with_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAOPS_POLICY_FILE", raising=False)
    result = CliRunner().invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"^([RP]-[A-Z0-9-]+)\s", result.output, re.MULTILINE))
    assert listed == rulebook_ids() - PARAMETERLESS
    assert "within = 12h    (RULEBOOK default)" in result.output


def test_policy_show_says_where_a_value_came_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('["R-INQUIRY-12H"]\nwithin = "8h"\n')
    monkeypatch.setenv("MEDIAOPS_POLICY_FILE", str(path))
    result = CliRunner().invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert f"within = 8h    ({path})" in result.output


def test_invalid_policy_stops_start_up(tmp_path: Path) -> None:
    """`mediaops up` (what `make run` runs) refuses to start, naming the key, before any port is taken."""
    path = tmp_path / "policy.toml"
    path.write_text('["R-INQUIRY-12H"]\nwithin = "-12h"\n')
    result = subprocess.run(
        [sys.executable, "-m", "cli", "up"],
        env={
            "PATH": "/usr/bin:/bin",
            "MEDIAOPS_POLICY_FILE": str(path),
            "MEDIAOPS_HOME": str(tmp_path / "home"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "R-INQUIRY-12H.within" in result.stderr
    assert not (tmp_path / "home").exists()


def test_the_system_report_cannot_come_after_the_4h_it_serves() -> None:
    with pytest.raises(PolicyError, match="report_unanswered_after"):
        policy_from_mapping({"R-ESCALATE-4H": {"within": "4h", "report_unanswered_after": "5h"}})


def test_a_day_cannot_be_announced_as_both_holiday_and_workday() -> None:
    with pytest.raises(PolicyError, match="both a holiday and a workday"):
        policy_from_mapping({"P-WORKING-HOURS": {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}})
