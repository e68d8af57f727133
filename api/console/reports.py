"""Reports and KPIs: the meeting reports (HTML inline, PDF), their action items, the KPI table;
for the auditor, the audit report of a period and each workflow's history.

The report's own page (reports/render.py, what the PDF is drawn from) is shown in a sandboxed
frame, so its styles stay its own and nothing in it runs.
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import audit as api_audit
from api import department as api_department
from api import kpi as api_kpi
from api import reports as api_reports
from api.console.calls import Outcome, act
from api.console.record import timeline
from api.console.web import Form, Signed, done, download, page, same_site
from api.state import AppState, app_state
from domain.periods import containing
from eventstore.users import list_users

router = APIRouter(prefix="/console", include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]


@router.get("/reports")
async def reports(request: Request, state: State, who: Signed) -> Response:
    made = await act(who.user, api_reports.listed, state=state, kind=None, period=None, limit=100)
    now = datetime.now(state.settings.policy.zone)
    suggested = {
        "weekly": containing("week", now, state.settings.policy.zone).previous().key,
        "monthly": containing("month", now, state.settings.policy.zone).previous().key,
    }
    return page(request, state, "reports.html", who, made=made, suggested=suggested)


@router.post("/reports")
async def make(state: State, who: Signed, form: Form) -> Response:
    values = {"kind": form.get("kind", ""), "period": form.get("period", "")}
    outcome = await act(who.user, api_reports.make, (api_reports.MakeIn, values), state=state)
    if outcome.ok:
        return done(
            state, "/console/reports", f"报告正在生成（{outcome.body['workflow_id']}），稍后刷新即可看到。"
        )
    return done(state, "/console/reports", outcome.words)


@router.get("/reports/{report_id}")
async def report(report_id: api_reports.ReportId, request: Request, state: State, who: Signed) -> Response:
    made = await act(who.user, api_reports.as_json, report_id=report_id, state=state)
    if not made.ok:
        return page(request, state, "refused.html", who, made.status, outcome=made)
    items = await act(who.user, api_department.actions, state=state, report_id=report_id)
    async with (await state.database()).acquire() as conn:
        people = await list_users(conn)
        workflow_id = await conn.fetchval("SELECT stream_id FROM meeting_reports WHERE id = $1", report_id)
    return page(
        request, state, "report.html", who,
        report_id=report_id, workflow_id=workflow_id, digest=made.body["digest"], report=made.body["report"],
        items=items, people=people,
        due=(datetime.now(state.settings.policy.zone) + timedelta(days=7)).date().isoformat(),
    )  # fmt: skip


@router.get("/reports/{report_id}/page")
async def report_page(report_id: api_reports.ReportId, state: State, who: Signed) -> Response:
    """The report's own HTML, for the frame on its console page."""
    made = await act(who.user, api_reports.as_html, report_id=report_id, state=state)
    response = Response(made.body if made.ok else made.words, status_code=made.status, media_type="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    )
    return response


@router.get("/reports/{report_id}.pdf")
async def report_pdf(report_id: api_reports.ReportId, state: State, who: Signed) -> Response:
    made = await act(who.user, api_reports.as_pdf, report_id=report_id, state=state)
    return download(made.status, made.body, made.words, "application/pdf", f"{report_id}.pdf")


@router.post("/actions")
async def record_action(state: State, who: Signed, form: Form) -> Response:
    report_id = str(form.get("report_id", ""))
    values = {k: form.get(k, "") for k in ("report_id", "text", "owner", "due")}
    outcome = await act(
        who.user, api_department.record_action, (api_department.ActionIn, values), state=state
    )
    return done(state, f"/console/reports/{report_id}", "行动项已记录。" if outcome.ok else outcome.words)


@router.post("/actions/{key}/done")
async def complete_action(key: str, state: State, who: Signed, form: Form) -> Response:
    report_id = str(form.get("report_id", ""))
    outcome = await act(who.user, api_department.complete_action, key=key, state=state)
    return done(state, f"/console/reports/{report_id}", "行动项已完成。" if outcome.ok else outcome.words)


@router.get("/kpi")
async def kpi(
    request: Request,
    state: State,
    who: Signed,
    period: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    asked = (
        period or containing("week", datetime.now(state.settings.policy.zone), state.settings.policy.zone).key
    )
    found = await act(who.user, api_kpi.kpi, period=asked, state=state)
    return page(request, state, "kpi.html", who, period=asked, kpi=found)


@router.get("/kpi.csv")
async def kpi_csv(
    state: State, who: Signed, period: Annotated[str, Query(min_length=1, max_length=20)]
) -> Response:
    """The KPI rows as the API's CSV, for the signed-in person."""
    made = await act(who.user, api_kpi.kpi_csv, period=period, state=state)
    return download(made.status, made.body, made.words, "text/csv; charset=utf-8", f"kpi-{period}.csv")


def _day(value: str | None, default: date) -> date | None:
    """A day typed in the audit form (YYYY-MM-DD, 1970 to 2999); None: not a day."""
    if not value:
        return default
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if date(1970, 1, 1) <= day < date(3000, 1, 1) else None


@router.get("/audit")
async def audit(
    request: Request,
    state: State,
    who: Signed,
    since: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    until: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """The audit of a period (days, Beijing time; `to` included), shown from the audit report's page.

    Making it re-judges the whole period and records the read in the auditor's stream, so a link
    from another site only opens the form (Fetch Metadata), it does not make the report."""
    zone = state.settings.policy.zone
    today = datetime.now(zone).date()
    first, last = _day(since, today - timedelta(days=7)), _day(until, today - timedelta(days=1))
    if first is None or last is None:
        made = Outcome(422, detail="a day is written YYYY-MM-DD", field="from" if first is None else "to")
    elif not same_site(request):
        made = Outcome(409, detail="open the audit from the console itself to make it")
    else:
        start = datetime.combine(first, time(), zone)
        end = datetime.combine(last + timedelta(days=1), time(), zone)
        made = await act(who.user, api_audit.report, state=state, since=start, until=end, format="html")
    return page(
        request, state, "audit.html", who, 422 if made.status == 422 else 200,
        first=first or today - timedelta(days=7), last=last or today - timedelta(days=1), made=made,
    )  # fmt: skip


@router.get("/history/{workflow_id}")
async def history(workflow_id: api_audit.WorkflowId, request: Request, state: State, who: Signed) -> Response:
    """A process's record (the event store's stream) and its Temporal history, payloads opened."""
    if not same_site(request):  # opening a history is recorded as the auditor's read: not from elsewhere
        found = Outcome(409, detail="open the history from the console itself")
    else:
        found = await act(who.user, api_audit.history, workflow_id=workflow_id, state=state)
    entries = await timeline(state, workflow_id) if found.ok else []
    return page(request, state, "history.html", who, workflow_id=workflow_id, found=found, entries=entries)
