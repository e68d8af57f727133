"""R-KPI over HTTP: per owner and period, every obligation that fell to them and whether it was kept.

`GET /kpi?period=2026-W48` answers JSON: the period and its bounds, each owner's kept, broken and
pending counts, and the rows, each naming the stream (and, where the read model has it, the event
position) it comes from. `GET /kpi.csv?period=...` is the same rows, one CSV line each in the same
order, for a spreadsheet. Both are the managers' and the auditor's (`kpi.read`).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import allowed
from api.state import AppState, app_state
from domain import kpi as k
from domain.errors import Invalid
from domain.periods import Period, parse
from domain.roles import Permission
from domain.rules import RuleId
from eventstore.kpi import kpi_rows
from eventstore.users import User

router = APIRouter(tags=["kpi"])
State = Annotated[AppState, Depends(app_state)]
PeriodKey = Annotated[
    str,
    Query(
        min_length=1,
        max_length=20,
        description="a day 2026-11-30, an ISO week 2026-W48, a month 2026-11 or a quarter 2026-Q4",
    ),
]


def _period(key: str) -> Period:
    try:
        return parse(key)
    except ValueError as exc:
        raise Invalid(RuleId.KPI, str(exc), field="period") from None


async def _kpi(state: AppState, period: Period) -> k.Kpi:
    policy = state.settings.policy
    async with (await state.database()).acquire() as conn:
        rows = await kpi_rows(conn, period, policy)
    return k.kpi(period, rows, policy)


@router.get("/kpi")
async def kpi(
    period: PeriodKey, state: State, _user: Annotated[User, Depends(allowed(Permission.KPI_READ))]
) -> dict[str, Any]:
    """Each owner's obligations of the period, kept (true), broken (false) or pending (null)."""
    asked = _period(period)
    zone = state.settings.policy.zone
    found = await _kpi(state, asked)
    return {
        "period": found.period,
        "rule": RuleId.KPI.value,
        "bounds": {
            "kind": asked.kind,
            "first": asked.first.isoformat(),
            "last": asked.last.isoformat(),
            "start": asked.start(zone).isoformat(),
            "end": asked.end(zone).isoformat(),
            "timezone": state.settings.policy.timezone,
        },
        "owners": [o.model_dump(mode="json") for o in found.owners],
        "rows": [r.model_dump(mode="json") for r in found.rows],
    }


@router.get("/kpi.csv")
async def kpi_csv(
    period: PeriodKey, state: State, _user: Annotated[User, Depends(allowed(Permission.KPI_READ))]
) -> Response:
    """The same rows as `GET /kpi`, one CSV line each, in the same order."""
    asked = _period(period)
    found = await _kpi(state, asked)
    return Response(
        "\ufeff" + k.csv_text(found.rows),  # a BOM, so spreadsheet programs read it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kpi-{found.period}.csv"'},
    )
