"""R-KPI's rows from the read models: one query per kind of obligation, over the asked period.

What falls in a period: a cadence period whose last day is in it (`Period.contains`), an inquiry
received in it, a major promotion whose announcement deadline is in it, a write-up due in it, an
approval asked for in it; the instants are compared with the period's bounds in the policy's zone
(Asia/Shanghai): an event time in `[start, end)`, a deadline in `(start, end]`, since 24:00 on
the period's last day is still that day (P-EVENT-DAY-END). The verdicts and wording are
domain/kpi.py's.
"""

from datetime import UTC, datetime, timedelta

from domain import kpi as k
from domain.periods import Period
from domain.policy import Policy
from eventstore.db import Conn

_MONTH_DAYS = 31
"""How far back of the asked period a cadence period may begin and still end in it (a month)."""

_CADENCE = """
    SELECT id, rule, subject, kind, period, first_day, status, count, target, closes_at,
           CASE WHEN status IN ('open', 'at_risk') THEN coalesce(
               (SELECT a."user" FROM owner_assignments a
                 WHERE a.subject = cp.subject AND a.starts_on <= cp.first_day
                 ORDER BY a.starts_on DESC, a.position DESC LIMIT 1), cp.owner)
           ELSE cp.owner END AS owner
      FROM cadence_periods cp
     WHERE first_day BETWEEN $1::date AND $2::date
       AND rule = ANY($3::text[])
"""
"""A closed period counts against the owner its close recorded; one still open against whoever the
register names for its first day now (an owner assigned after it opened)."""

_INQUIRIES = """
    SELECT id, assignee, status, received_at, (state->>'sent_at')::timestamptz AS clock_from,
           deadline, answered_at, within_sla
      FROM inquiries
     WHERE received_at >= $1 AND received_at < $2
"""

_PLATFORMS_IN_TIME = """
           (SELECT count(*) FROM jsonb_each(state->'platforms') p
             WHERE p.value->>'state' = 'announced')::int AS in_time,
           (SELECT count(*) FROM jsonb_object_keys(state->'platforms'))::int AS required
"""

_PROMOTIONS = f"""
    SELECT id, owner, status, compliance, announce_by, {_PLATFORMS_IN_TIME}
      FROM promotions
     WHERE major AND announce_by > $1 AND announce_by <= $2
"""  # noqa: S608 - a constant of this module

_WRITEUPS = f"""
    SELECT id, owner, status, due, {_PLATFORMS_IN_TIME}
      FROM writeups
     WHERE due > $1 AND due <= $2
"""  # noqa: S608 - a constant of this module

_APPROVALS = """
    SELECT article_id, version, role, requested_at, requested_position, decided_by, decided_at,
           outcome, escalated, decided_position
      FROM approvals
     WHERE requested_at >= $1 AND requested_at < $2
"""


async def kpi_rows(
    conn: Conn, period: Period, policy: Policy, *, now: datetime | None = None
) -> list[k.KpiRow]:
    """Every obligation of `period` that R-KPI counts, with its owner and verdict, in review order.

    `now` decides whether an unanswered inquiry's deadline has passed (by default: now)."""
    zone = policy.zone
    start, end = period.start(zone), period.end(zone)
    at = now or datetime.now(UTC)
    counted = policy.kpi.counted_rules
    rows: list[k.KpiRow | None] = []

    cadence_rules = [r.value for r in counted]
    for r in await conn.fetch(
        _CADENCE, period.first - timedelta(days=_MONTH_DAYS), period.last, cadence_rules
    ):
        if k.cadence_counts_in(period, r["kind"], r["first_day"]):
            rows.append(
                k.cadence_row(
                    id=r["id"], rule=r["rule"], subject=r["subject"], period=r["period"],
                    status=r["status"], count=r["count"], target=r["target"], owner=r["owner"],
                    closes_at=r["closes_at"],
                )
            )  # fmt: skip

    for r in await conn.fetch(_INQUIRIES, start, end):
        rows.append(
            k.inquiry_row(
                id=r["id"], assignee=r["assignee"], status=r["status"], received_at=r["received_at"],
                clock_from=r["clock_from"], deadline=r["deadline"], answered_at=r["answered_at"],
                within_sla=r["within_sla"], now=at, zone=zone,
            )
        )  # fmt: skip

    for r in await conn.fetch(_PROMOTIONS, start, end):
        rows.append(
            k.promotion_row(
                id=r["id"], owner=r["owner"], status=r["status"], compliance=r["compliance"],
                announce_by=r["announce_by"], in_time=r["in_time"], required=r["required"], zone=zone,
            )
        )  # fmt: skip

    for r in await conn.fetch(_WRITEUPS, start, end):
        rows.append(
            k.writeup_row(
                id=r["id"], owner=r["owner"], status=r["status"], due=r["due"],
                in_time=r["in_time"], required=r["required"], zone=zone,
            )
        )  # fmt: skip

    for r in await conn.fetch(_APPROVALS, start, end):
        rows.append(
            k.approval_row(
                article_id=r["article_id"], version=r["version"], role=r["role"],
                requested_at=r["requested_at"], requested_position=r["requested_position"],
                decided_by=r["decided_by"], decided_at=r["decided_at"], outcome=r["outcome"],
                escalated=r["escalated"], decided_position=r["decided_position"], policy=policy,
            )
        )  # fmt: skip

    return k.ordered(row for row in rows if row is not None and k.counted(row.rule, policy))
