"""`mediaops report`: the meetings' reports (R-WEEKLY, R-MONTHLY) from the command line.

`report weekly --week 2026-W48` and `report monthly --month 2026-11` have a report made now, as the
meeting's schedule would, and follow its run with a progress line; then they print the report's
figures (each platform's snapshot event), its problems and its digest, and write its HTML, PDF or
JSON where asked. `report verify <id>` composes a stored report again from the record and says
whether its digest is the same: a platform's live figures changing since must not change it.
"""

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from domain import meetings as m

report_app = typer.Typer(
    help="The weekly and monthly meetings' reports (R-WEEKLY, R-MONTHLY).", no_args_is_help=True
)
Out = Annotated[Path | None, typer.Option(help="write it here")]
POLL_S = 0.5
"""How often the command asks the report's run how far it is."""


def _print(report: m.MeetingReport, digest: str) -> None:
    typer.echo(f"{report.id}  {report.rule}  {report.period} (against {report.previous})")
    days = f"{report.figures_from} .. {report.figures_to}" if report.figures_from else "no day over yet"
    partial = "  PARTIAL: the period is still running" if report.partial else ""
    typer.echo(f"as of {report.as_of.isoformat()}{partial}")
    typer.echo(f"figures for {days}, against {report.previous_from} .. {report.previous_to}")
    for p in report.platforms:
        if p.missing:
            typer.echo(f"  {p.platform}/{p.account}: missing ({p.missing})")
            continue
        typer.echo(f"  {p.platform}/{p.account}: snapshot event {p.snapshot}")
        for line in p.lines:
            c = line.change
            pct = f"{c.pct:+.1f}%" if c.pct is not None else (c.note or "-")
            typer.echo(f"    {line.name:<18} {c.current!s:>10} {c.previous!s:>10} {pct}")
    for tally in report.compliance:
        rate = f"{tally.hit_rate}%" if tally.hit_rate is not None else "-"
        typer.echo(f"  {tally.rule}: {tally.kept}/{tally.checked} kept ({rate}), {tally.pending} pending")
    for cadence in report.cadence:
        counts = f"met {cadence.met}, missed {cadence.missed}, open {cadence.open}"
        typer.echo(f"  {cadence.rule} {cadence.subject}: {counts}")
    for problem in report.problems:
        typer.echo(f"  problem [{problem.rule}] {problem.text}")
    for item in report.actions_reviewed:
        typer.echo(f"  action {item.id} ({item.owner}, due {item.due}): {item.status}: {item.text}")
    typer.echo(f"digest {digest}")


def _write(report: m.MeetingReport, html: Path | None, pdf: Path | None, json_out: Path | None) -> None:
    from reports import render

    if html is not None:
        html.write_text(render.html(report), encoding="utf-8")
    if pdf is not None:
        pdf.write_bytes(render.pdf(report))
    if json_out is not None:
        json_out.write_bytes(m.canonical(report))


async def _made(settings: Any, kind: m.MeetingKind, period: str) -> tuple[m.MeetingReport, str]:
    """Start the report's run, show how far it is, and read the report it recorded."""

    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from eventstore.db import connect as connect_db
    from mediaops.temporal import connect
    from workflows.contracts import ReportProgress, ReportStart

    client = await connect(settings)
    workflow_id = f"report-{kind}-{period}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        "MeetingReport",
        ReportStart(kind=kind, period=period),
        id=workflow_id,
        task_queue=settings.task_queue,
        result_type=ReportProgress,
    )
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        await asyncio.wait([result], timeout=POLL_S)
        try:
            progress = await handle.query("current", result_type=ReportProgress)
        except (RPCError, WorkflowQueryFailedError):  # not begun yet, or over: the next poll says
            continue
        bar = "#" * progress.steps_done + "." * max(progress.steps - progress.steps_done, 0)
        sys.stderr.write(f"\r[{bar}] {progress.steps_done}/{progress.steps} {progress.doing[:60]:<60}")
        sys.stderr.flush()
    sys.stderr.write("\n")
    done = result.result()
    conn = await connect_db(settings.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT data FROM events WHERE stream_id = $1 AND type = 'report.made'", workflow_id
        )
    finally:
        await conn.close()
    assert row is not None, f"{workflow_id} recorded no report ({done.doing})"  # noqa: S101
    data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
    made = m.ReportMade.model_validate(data)
    for missing in done.missing:
        sys.stderr.write(f"missing: {missing}\n")
    return made.report, made.digest


def _make(
    kind: m.MeetingKind, period: str, html: Path | None, pdf: Path | None, json_out: Path | None
) -> None:
    from cli.main import _fail, _settings
    from domain.periods import parse_kind

    try:
        key = parse_kind(period, m.MEETING_PERIODS[kind]).key
    except ValueError as exc:
        raise _fail(str(exc)) from None
    settings = _settings()
    try:
        report, digest = asyncio.run(_made(settings, kind, key))
    except (RuntimeError, OSError) as exc:
        raise _fail(f"cannot make the report ({exc}); is `make run` running?", 1) from None
    _print(report, digest)
    _write(report, html, pdf, json_out)


@report_app.command("weekly")
def weekly(
    week: Annotated[str, typer.Option(help="an ISO week, e.g. 2026-W48 (the current one is partial)")],
    html: Out = None,
    pdf: Out = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write its canonical JSON here")] = None,
) -> None:
    """Make the weekly meeting's report for the week (R-WEEKLY), as of now."""
    _make("weekly", week, html, pdf, json_out)


@report_app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option(help="a month, e.g. 2026-11 (the current one is partial)")],
    html: Out = None,
    pdf: Out = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write its canonical JSON here")] = None,
) -> None:
    """Make the monthly meeting's report for the month (R-MONTHLY), reviewing its action items."""
    _make("monthly", month, html, pdf, json_out)


@report_app.command("verify")
def verify(
    report_id: Annotated[str, typer.Argument(help="a report's id, as `GET /reports` lists it")],
) -> None:
    """Compose a stored report again from the record: exit 0 when its digest is the same, 1 when not."""
    from activities.reports import compose_report, request_of
    from cli.main import _fail, _settings
    from eventstore.db import create_pool
    from eventstore.store import EventStore

    settings = _settings()

    async def run() -> tuple[str, str]:
        pool = await create_pool(settings.dsn)
        try:
            data = await pool.fetchval(
                "SELECT data FROM events WHERE type = 'report.made' AND data->'report'->>'id' = $1", report_id
            )
            if data is None:
                raise _fail(f"no report {report_id}", 2)
            made = m.ReportMade.model_validate(data if isinstance(data, dict) else json.loads(data))
            again = await compose_report(EventStore(pool), settings.policy, request_of(made.report))
            return made.digest, m.digest(again)
        finally:
            await pool.close()

    recorded, digest = asyncio.run(run())
    typer.echo(f"recorded {recorded}\nagain    {digest}")
    if recorded != digest:
        raise _fail(f"{report_id}: composed again, the report differs from the one recorded", 1)
    typer.echo("the same report")
