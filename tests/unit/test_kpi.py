"""R-KPI's rows (domain/kpi.py): each obligation's verdict and wording, the owners' summaries, the
rules counted, the order, and the CSV carrying exactly the JSON rows."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import kpi as k
from domain.periods import parse
from domain.policy import Kpi as KpiParams
from domain.policy import Policy
from domain.rules import RuleId

BEIJING = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
NOW = datetime(2026, 12, 10, tzinfo=UTC)
T0 = datetime(2026, 11, 24, 1, tzinfo=UTC)  # Tuesday 09:00 in Beijing, ISO week 48


def cadence(status: str, **changes: object) -> k.KpiRow | None:
    fields: dict[str, object] = {
        "id": "website-2026-W48", "rule": "R-CADENCE-WEB", "subject": "website", "period": "2026-W48",
        "status": status, "count": 3, "target": 3, "owner": "alice",
        "closes_at": datetime(2026, 11, 29, 16, tzinfo=UTC),
    }  # fmt: skip
    return k.cadence_row(**{**fields, **changes})  # type: ignore[arg-type]


def inquiry(**changes: object) -> k.KpiRow | None:
    fields: dict[str, object] = {
        "id": "inquiry-phone-1", "assignee": "bob", "status": "answered", "received_at": T0,
        "clock_from": T0, "deadline": T0 + timedelta(hours=12),
        "answered_at": T0 + timedelta(hours=2, minutes=10), "within_sla": True, "now": NOW,
        "zone": BEIJING,
    }  # fmt: skip
    return k.inquiry_row(**{**fields, **changes})  # type: ignore[arg-type]


def approval(**changes: object) -> k.KpiRow:
    fields: dict[str, object] = {
        "article_id": "a1", "version": 2, "role": "operations_manager", "requested_at": T0,
        "requested_position": 10, "decided_by": "carol",
        "decided_at": T0 + timedelta(hours=3, minutes=5), "outcome": "approved", "escalated": False,
        "decided_position": 12, "policy": POLICY,
    }  # fmt: skip
    return k.approval_row(**{**fields, **changes})  # type: ignore[arg-type]


# --- cadence ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kept", "detail"),
    [
        ("met", True, "3 of 3 posts"),
        ("missed", False, "3 of 3 posts"),
        ("open", None, "3 of 3 posts so far"),
        ("at_risk", None, "3 of 3 posts so far (at risk)"),
    ],
)
def test_a_cadence_period_is_kept_when_met_broken_when_missed_and_pending_while_open(
    status: str, kept: bool | None, detail: str
) -> None:
    row = cadence(status)
    assert row is not None
    assert (row.kept, row.detail) == (kept, detail)
    assert (row.rule, row.obligation, row.subject, row.period) == (
        RuleId.CADENCE_WEB, "cadence", "website", "2026-W48",
    )  # fmt: skip
    assert (row.stream_id, row.position) == ("cadence-website-2026-W48", None)


def test_a_day_that_owed_nothing_is_no_obligation_and_a_period_without_owner_is_unassigned() -> None:
    assert cadence("not_owed") is None
    row = cadence("missed", owner=None, count=1)
    assert row is not None
    assert (row.owner, row.detail) == (k.UNASSIGNED, "1 of 3 posts")


def test_a_week_counts_in_the_month_its_last_day_is_in() -> None:
    november, december = parse("2026-11"), parse("2026-12")
    spanning = date(2026, 11, 30)  # Monday of ISO week 49, which ends on 6 December
    assert not k.cadence_counts_in(november, "week", spanning)
    assert k.cadence_counts_in(december, "week", spanning)
    assert k.cadence_counts_in(november, "week", date(2026, 11, 23))
    assert k.cadence_counts_in(parse("2026-W48"), "day", date(2026, 11, 29))
    assert not k.cadence_counts_in(parse("2026-W48"), "day", date(2026, 11, 30))
    assert k.cadence_counts_in(parse("2026-Q4"), "month", date(2026, 12, 1))
    assert not k.cadence_counts_in(parse("2026-W48"), "fortnight", date(2026, 11, 23))


# --- inquiries ----------------------------------------------------------------------------------


def test_an_inquiry_answered_in_time_is_kept_and_says_how_long_it_took() -> None:
    row = inquiry()
    assert row is not None
    assert (row.owner, row.rule, row.kept) == ("bob", RuleId.INQUIRY_12H, True)
    assert row.detail == "answered in 2h10m (deadline 12h)"
    assert (row.subject, row.stream_id, row.period) == ("inquiry-phone-1", "inquiry-phone-1", "2026-11-24")
    assert row.due == T0 + timedelta(hours=12)


def test_an_inquiry_answered_late_or_unanswered_past_its_deadline_is_broken() -> None:
    late = inquiry(answered_at=T0 + timedelta(hours=13, minutes=20), within_sla=False)
    assert late is not None
    assert (late.kept, late.detail) == (False, "answered in 13h20m (deadline 12h): late")
    for status in ("open", "breached"):
        unanswered = inquiry(status=status, answered_at=None, within_sla=None)
        assert unanswered is not None
        assert (unanswered.kept, unanswered.detail) == (False, "unanswered past the deadline (deadline 12h)")


def test_an_inquiry_unanswered_before_its_deadline_is_pending_and_one_closed_as_spam_is_none() -> None:
    waiting = inquiry(status="at_risk", answered_at=None, within_sla=None, now=T0 + timedelta(hours=11))
    assert waiting is not None
    assert (waiting.kept, waiting.detail) == (None, "unanswered so far (deadline 12h)")
    nobody = inquiry(assignee=None, status="open", answered_at=None, within_sla=None, deadline=None)
    assert nobody is not None
    assert (nobody.owner, nobody.kept, nobody.period) == (k.UNASSIGNED, None, "2026-11-24")
    assert inquiry(status="closed", answered_at=None, within_sla=None) is None


def test_a_reopened_inquiry_is_timed_from_its_new_clock() -> None:
    again = T0 + timedelta(days=1)
    row = inquiry(
        clock_from=again, deadline=again + timedelta(hours=12), answered_at=again + timedelta(minutes=45)
    )
    assert row is not None
    assert row.detail == "answered in 45m (deadline 12h)"


# --- promotions and write-ups -------------------------------------------------------------------


def test_a_promotion_is_judged_by_its_verdict_and_a_cancelled_one_owes_nothing() -> None:
    fields: dict[str, object] = {
        "id": "p1", "owner": "dan", "compliance": "on_track", "announce_by": T0, "in_time": 2,
        "required": 3, "zone": BEIJING,
    }  # fmt: skip
    met = k.promotion_row(status="met", **fields)  # type: ignore[arg-type]
    breached = k.promotion_row(status="breached", **fields)  # type: ignore[arg-type]
    planned = k.promotion_row(status="planned", **{**fields, "compliance": "cannot_meet"})  # type: ignore[arg-type]
    assert met is not None
    assert breached is not None
    assert planned is not None
    assert (met.kept, breached.kept, planned.kept) == (True, False, None)
    assert breached.detail == "announced on 2 of 3 platforms in time"
    assert planned.detail.endswith("(planned too late to meet the lead)")
    assert (met.rule, met.stream_id, met.period, met.due) == (
        RuleId.PROMO_3D,
        "promotion-p1",
        "2026-11-24",
        T0,
    )
    assert k.promotion_row(status="cancelled", **fields) is None  # type: ignore[arg-type]


def test_a_writeup_is_kept_when_met_and_pending_while_published_before_its_verdict() -> None:
    met = k.writeup_row(id="w1", owner="eve", status="met", due=T0, in_time=3, required=3, zone=BEIJING)
    out = k.writeup_row(id="w1", owner="eve", status="published", due=T0, in_time=3, required=3, zone=BEIJING)
    late = k.writeup_row(id="w1", owner="eve", status="breached", due=T0, in_time=1, required=3, zone=BEIJING)
    assert (met.kept, out.kept, late.kept) == (True, None, False)
    assert (met.rule, met.stream_id) == (RuleId.NEWS_3WD, "writeup-w1")
    assert late.detail == "published on 1 of 3 platforms in time"


# --- approvals ----------------------------------------------------------------------------------


def test_an_approval_decided_without_escalation_is_kept_with_how_long_it_took() -> None:
    row = approval()
    assert (row.owner, row.rule, row.kept, row.took_s) == ("carol", RuleId.REVIEW_ALL, True, 11100)
    assert row.detail == "decided in 3h05m (approved)"
    assert (row.subject, row.stream_id, row.position) == ("a1 v2 operations_manager", "article-a1", 12)


def test_an_escalated_approval_is_broken_even_when_decided_later() -> None:
    later = approval(escalated=True, decided_at=T0 + timedelta(hours=26), outcome="changes_requested")
    assert (later.kept, later.detail) == (False, "escalated, then changes requested in 26h00m")
    waiting = approval(escalated=True, decided_by=None, decided_at=None, outcome=None, decided_position=None)
    assert (waiting.owner, waiting.kept, waiting.detail) == ("role:operations_manager", False, "escalated")
    assert (waiting.position, waiting.took_s) == (10, None)


def test_an_undecided_approval_is_pending_on_its_role_and_the_confirmation_is_r_review_project() -> None:
    row = approval(
        role="general_manager", decided_by=None, decided_at=None, outcome=None, decided_position=None
    )
    assert (row.owner, row.rule, row.kept) == ("role:general_manager", RuleId.REVIEW_PROJECT, None)
    assert row.detail == "not decided yet"


# --- the whole KPI and its CSV -----------------------------------------------------------------


def rows() -> list[k.KpiRow]:
    found = [
        cadence("met"),
        cadence(
            "missed", id="wechat-2026-11-24", rule="R-CADENCE-DAILY", subject="wechat", period="2026-11-24"
        ),
        inquiry(),
        inquiry(id="inquiry-phone-2", status="open", answered_at=None, within_sla=None),
        approval(),
        approval(article_id="a0", decided_by=None, decided_at=None, outcome=None, decided_position=None),
    ]
    return [r for r in found if r is not None]


def test_the_owners_are_summed_with_their_rate_and_the_rows_ordered() -> None:
    kpi = k.kpi(parse("2026-W48"), reversed(rows()), POLICY)
    assert [(r.owner, r.rule.value, r.subject) for r in kpi.rows] == [
        ("alice", "R-CADENCE-DAILY", "wechat"),
        ("alice", "R-CADENCE-WEB", "website"),
        ("bob", "R-INQUIRY-12H", "inquiry-phone-1"),
        ("bob", "R-INQUIRY-12H", "inquiry-phone-2"),
        ("carol", "R-REVIEW-ALL", "a1 v2 operations_manager"),
        ("role:operations_manager", "R-REVIEW-ALL", "a0 v2 operations_manager"),
    ]
    assert [o.model_dump() for o in kpi.owners] == [
        {"owner": "alice", "kept": 1, "broken": 1, "pending": 0, "rate": 0.5},
        {"owner": "bob", "kept": 1, "broken": 1, "pending": 0, "rate": 0.5},
        {"owner": "carol", "kept": 1, "broken": 0, "pending": 0, "rate": 1.0},
        {"owner": "role:operations_manager", "kept": 0, "broken": 0, "pending": 1, "rate": None},
    ]
    assert kpi.period == "2026-W48"


def test_only_the_rules_r_kpi_counts_are_in_it_and_the_approvals_always() -> None:
    policy = Policy.model_validate({"R-KPI": KpiParams(counted_rules=(RuleId.INQUIRY_12H,)).model_dump()})
    kpi = k.kpi(parse("2026-W48"), rows(), policy)
    assert {r.obligation for r in kpi.rows} == {"inquiry", "approval"}


def test_the_csv_has_exactly_the_json_rows_in_the_same_order() -> None:
    found = k.kpi(parse("2026-W48"), rows(), POLICY).rows
    text = k.csv_text(found)
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(k.CSV_COLUMNS)
    assert list(k.CSV_COLUMNS) == list(found[0].model_dump(mode="json"))
    assert len(table) == len(found)
    for line, row in zip(table, found, strict=True):
        values = row.model_dump(mode="json")
        for column in k.CSV_COLUMNS:
            value = values[column]
            expected = (
                ""
                if value is None
                else ("true" if value is True else "false" if value is False else str(value))
            )
            assert line[column] == expected


def test_a_cell_that_starts_like_a_formula_is_kept_as_text() -> None:
    row = cadence("met", owner="=HYPERLINK(1)")
    assert row is not None
    assert k.csv_lines([row])[1][0] == "'=HYPERLINK(1)"


def test_a_deadline_at_24_00_is_its_own_days() -> None:
    friday_end = datetime(2026, 11, 27, 16, tzinfo=UTC)  # 24:00 on Friday 27 November in Beijing
    assert k.deadline_day(friday_end, BEIJING) == "2026-11-27"
    assert k.deadline_day(friday_end + timedelta(seconds=1), BEIJING) == "2026-11-28"
    row = k.writeup_row(
        id="w", owner="eve", status="open", due=friday_end, in_time=0, required=1, zone=BEIJING
    )
    assert row.period == "2026-11-27"


def test_hours_and_minutes() -> None:
    assert k.hours_minutes(timedelta(minutes=5)) == "5m"
    assert k.hours_minutes(timedelta(hours=3, minutes=5)) == "3h05m"
    assert k.hours_minutes(timedelta(days=1, hours=2)) == "26h00m"
    assert k.hours_minutes(timedelta(seconds=-5)) == "0m"
