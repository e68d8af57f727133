"""Issue 13, must show 3 and 4: the weekly and monthly reports, action items and the KPI on the
`make run` stack, through the API and the CLI only.

The weekly report of the current week (partial: the days over so far) has its figures from the
snapshot events its run stored; its PDF opens and its HTML carries the charts. The fakes' live
figures are then changed and the same report, composed again from the record, keeps its digest.
The operations manager records two action items at it, and the month's report lists them. The
KPI of the week lists each owner with each obligation, and its CSV has the same rows.
"""

import asyncio
import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from deploy.launch import CLI, stack_environment
from domain import meetings as m
from domain.periods import containing
from tests.e2e.stack_support import RunningStack, api, bearer, running_stack, wait_for

BEIJING = ZoneInfo("Asia/Shanghai")
MANAGER = "demo.operations_manager"
WRITER = "demo.content_specialist"
WECHAT_READY_HOUR = 8
"""WeChat's datacube has a day's figures after 08:00 Beijing time the next day (platforms.md)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("meetings")
    with running_stack(stack_environment(home / "state")) as running:
        yield running


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False)


def the_week() -> str:
    """The current ISO week, or (on a Monday in Beijing, when no day of it is over) the last one."""
    now = datetime.now(UTC)
    week = containing("week", now, BEIJING)
    return (week if m.figure_days(week, now, BEIJING) else week.previous()).key


def publish(env: dict[str, str], platforms: list[str]) -> str:
    writer, manager = bearer(env, "content_specialist"), bearer(env, "operations_manager")
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    body = {
        "title": "公司动态",
        "body": f'<p>本周动态。</p><img src="{fakes}/assets/site.jpg">',
        "category": "company_news",
        "platforms": platforms,
        "source": "运营部",
    }
    created = httpx.post(api(env, "/articles"), json=body, headers=writer, timeout=30)
    assert created.status_code == 201, created.text
    key: str = created.json()["id"]
    wait_for(
        lambda: httpx.get(api(env, f"/articles/{key}"), headers=manager).json()["status"] == "in_review",
        "the review",
    )
    approved = httpx.post(
        api(env, f"/articles/{key}/review"),
        json={"decision": "approve", "version": 1},
        headers=manager,
        timeout=30,
    )
    assert approved.status_code == 200, approved.text
    wait_for(
        lambda: httpx.get(api(env, f"/articles/{key}"), headers=manager).json()["status"] == "published",
        "the publication",
        within=90,
    )
    return key


def answered_inquiry(env: dict[str, str]) -> str:
    staff = bearer(env, "content_specialist")
    came = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    body = {"platform": "phone", "user": "张先生", "text": "几点开门？", "received_at": came}
    created = httpx.post(api(env, "/inquiries"), json=body, headers=staff, timeout=30)
    assert created.status_code in (201, 202), created.text
    key: str = created.json()["id"]
    wait_for(
        lambda: httpx.get(api(env, f"/inquiries/{key}"), headers=staff).status_code == 200, "the inquiry"
    )
    assigned = httpx.post(
        api(env, f"/inquiries/{key}/assign"), json={"assignee": WRITER}, headers=staff, timeout=30
    )
    assert assigned.status_code == 200, assigned.text
    answered = httpx.post(
        api(env, f"/inquiries/{key}/reply"), json={"text": "九点开门。"}, headers=staff, timeout=30
    )
    assert answered.status_code == 200, answered.text
    return key


def snapshot_values(env: dict[str, str], event_id: str) -> dict[str, int]:
    """The figures of the stored snapshot event, read from the event store itself."""
    dsn = run_cli(env, "dev", "dsn").stdout.strip()

    async def read() -> dict[str, int]:
        conn = await asyncpg.connect(dsn)
        try:
            data = await conn.fetchval("SELECT data FROM events WHERE event_id = $1::uuid", event_id)
        finally:
            await conn.close()
        values: dict[str, int] = (json.loads(data) if isinstance(data, str) else data)["figures"]["values"]
        return values

    return asyncio.run(read())


def test_the_weekly_report_is_made_from_snapshots_and_its_digest_holds(
    stack: RunningStack, tmp_path: Path
) -> None:
    env = stack.env
    manager = bearer(env, "operations_manager")
    monday = containing("week", datetime.now(UTC), BEIJING).first.isoformat()
    for subject in ("website", "wechat"):
        owned = httpx.post(
            api(env, "/owners"),
            json={"subject": subject, "user": WRITER, "starts_on": monday},
            headers=manager,
            timeout=30,
        )
        assert owned.status_code == 200, owned.text
    held = wait_for(
        lambda: (
            (r := httpx.get(api(env, "/owners"), params={"on": monday}, headers=manager).json())
            and len(r) == 2
            and r
        ),
        "the owners in the register's read model",
    )
    assert isinstance(held, list)
    assert {(r["subject"], r["user"]) for r in held} == {("website", WRITER), ("wechat", WRITER)}
    publish(env, ["website", "wechat"])
    answered_inquiry(env)

    week = the_week()
    html, pdf, canonical = tmp_path / "week.html", tmp_path / "week.pdf", tmp_path / "week.json"
    made = run_cli(
        env,
        "report",
        "weekly",
        "--week",
        week,
        "--html",
        str(html),
        "--pdf",
        str(pdf),
        "--json",
        str(canonical),
    )
    assert made.returncode == 0, made.stderr + made.stdout
    assert "/" in made.stderr  # the progress line: steps done of steps
    report = m.MeetingReport.model_validate_json(canonical.read_bytes())
    digest = re.search(r"^digest ([0-9a-f]{64})$", made.stdout, re.M)
    assert digest
    assert digest[1] == m.digest(report)
    wechat = next(p for p in report.platforms if p.platform == "wechat")
    shown = wechat
    if datetime.now(BEIJING).hour < WECHAT_READY_HOUR:
        # before 08:00 Beijing, WeChat has no figures for yesterday yet: missing, and said why; the
        # website's (counted from WordPress any time) stand for the snapshot this test follows
        assert wechat.snapshot is None
        assert "08:00" in str(wechat.missing)
        shown = next(p for p in report.platforms if p.platform == "website")
    assert shown.snapshot is not None, shown.missing
    stored = snapshot_values(env, shown.snapshot)
    assert {line.name: line.change.current for line in shown.lines} == {
        name: stored.get(name) for name in (line.name for line in shown.lines)
    }
    assert f"snapshot event {shown.snapshot}" in made.stdout
    assert any(p.missing for p in report.platforms if p.platform == "zhihu")  # no figures API: missing, not 0
    assert pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    assert "周例会" in "".join(page.extract_text() for page in PdfReader(pdf).pages)
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3
    assert "R-WEEKLY" in page

    reader = bearer(env, "auditor")
    listed = wait_for(
        lambda: [r for r in httpx.get(api(env, "/reports"), headers=reader).json() if r["id"] == report.id],
        "the report in GET /reports",
    )
    assert isinstance(listed, list)
    assert listed[0]["digest"] == digest[1]
    fetched = httpx.get(api(env, f"/reports/{report.id}"), headers=reader)
    assert fetched.headers["X-Report-Digest"] == digest[1]
    assert httpx.get(api(env, f"/reports/{report.id}.pdf"), headers=reader).content.startswith(b"%PDF")

    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    for platform in ("wechat", "miniprogram", "weibo", "website"):
        assert (
            httpx.post(f"{fakes}/{platform}/__fake__/figures", json={"shift": 500}, timeout=10).status_code
            == 200
        )
    again = run_cli(env, "report", "verify", report.id)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "the same report" in again.stdout
    assert digest[1] in again.stdout
    verified = httpx.get(api(env, f"/reports/{report.id}/verify"), headers=reader).json()
    assert verified["same"] is True
    assert verified["digest"] == digest[1]

    items = []
    due = (datetime.now(BEIJING).date() + timedelta(days=5)).isoformat()
    for text in ("公众号每日推送补齐", "网站每周三篇"):
        item = httpx.post(
            api(env, "/actions"),
            json={"report_id": report.id, "text": text, "owner": WRITER, "due": due},
            headers=manager,
            timeout=30,
        )
        assert item.status_code == 201, item.text
        items.append(item.json()["id"])
    wait_for(
        lambda: (
            len(httpx.get(api(env, "/actions"), params={"report_id": report.id}, headers=reader).json()) == 2
        ),
        "the action items",
    )
    month = containing("month", datetime.now(UTC), BEIJING).key
    monthly = run_cli(env, "report", "monthly", "--month", month, "--json", str(tmp_path / "month.json"))
    assert monthly.returncode == 0, monthly.stderr + monthly.stdout
    reviewed = m.MeetingReport.model_validate_json((tmp_path / "month.json").read_bytes()).actions_reviewed
    assert [(a.id, a.status, a.set_at_report) for a in reviewed if a.id in items] == [
        (items[0], "not_done", report.id),
        (items[1], "not_done", report.id),
    ]
    for key in items:
        assert f"action {key}" in monthly.stdout


def test_the_kpi_lists_each_owner_with_each_obligation_and_the_csv_the_same_rows(stack: RunningStack) -> None:
    env = stack.env
    week = containing("week", datetime.now(UTC), BEIJING).key
    reader = bearer(env, "auditor")

    def rows() -> list[dict[str, Any]] | None:
        answer = httpx.get(api(env, "/kpi"), params={"period": week}, headers=reader, timeout=30)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["rows"]
        return found if {r["obligation"] for r in found} >= {"cadence", "inquiry", "approval"} else None

    found = wait_for(rows, "the KPI's obligations", within=60)
    assert isinstance(found, list)
    owners = {r["owner"] for r in found}
    assert WRITER in owners
    assert MANAGER in owners
    inquiry = next(r for r in found if r["obligation"] == "inquiry" and r["owner"] == WRITER)
    assert inquiry["kept"] is True
    assert inquiry["rule"] == "R-INQUIRY-12H"
    approval = next(r for r in found if r["obligation"] == "approval" and r["owner"] == MANAGER)
    assert approval["kept"] is True
    assert approval["stream_id"].startswith("article-")
    cadence = [r for r in found if r["obligation"] == "cadence" and r["owner"] == WRITER]
    assert {r["subject"] for r in cadence} >= {"website", "wechat"}
    exported = httpx.get(api(env, "/kpi.csv"), params={"period": week}, headers=reader, timeout=30)
    assert exported.status_code == 200, exported.text
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["owner"], r["rule"], r["subject"], r["stream_id"]) for r in table] == [
        (r["owner"], r["rule"], r["subject"], r["stream_id"]) for r in found
    ]
