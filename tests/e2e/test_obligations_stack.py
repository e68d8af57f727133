"""Issue 11, must show 3: promotions on the `make run` stack, through the API only.

The stack runs a policy whose R-PROMO-3D lead is 45 seconds short of 10 days, so a promotion that
starts in 10 days reaches its announcement deadline while the test watches; nothing else about
the rule changes (the reminders 7 and 5 days ahead fall before it was planned, so none is due).
"""

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.launch import stack_environment
from tests.e2e.stack_support import RunningStack, api, bearer, running_stack, wait_for

LEAD = "9d23h59m15s"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("obligations")
    policy = home / "policy.toml"
    policy.write_text(f'["R-PROMO-3D"]\nlead = "{LEAD}"\n')
    with running_stack(stack_environment(home / "state", MEDIAOPS_POLICY_FILE=str(policy))) as running:
        yield running


def plan(env: dict[str, str], headers: dict[str, str], name: str) -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(days=10)
    body = {
        "name": name,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=3)).isoformat(),
        "major": True,
        "platforms": ["website", "wechat"],
    }
    planned = httpx.post(api(env, "/promotions"), json=body, headers=headers, timeout=30)
    assert planned.status_code == 201, planned.text
    found: dict[str, Any] = planned.json()
    return found


def announce(env: dict[str, str], promotion: str, platforms: list[str]) -> str:
    """An announcement article for `promotion`, submitted, approved and published on `platforms`."""
    writer, manager = bearer(env, "promotion_specialist"), bearer(env, "operations_manager")
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    body = {
        "title": "双十二大促预告",
        "body": f'<p>十二月十二日起全场八折。</p><img src="{fakes}/assets/site.jpg">',
        "category": "promotion",
        "platforms": platforms,
        "source": "市场部",
        "promotion_id": promotion,
    }
    created = httpx.post(api(env, "/articles"), json=body, headers=writer, timeout=30)
    assert created.status_code == 201, created.text
    article_id: str = created.json()["id"]
    assert created.json()["promotion_id"] == promotion
    approved = httpx.post(
        api(env, f"/articles/{article_id}/review"),
        json={"decision": "approve", "version": 1},
        headers=manager,
        timeout=30,
    )
    assert approved.status_code == 200, approved.text
    return article_id


def promotion(env: dict[str, str], key: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(api(env, f"/promotions/{key}"), headers=bearer(env, "auditor")).json()
    return found


def test_promotions_are_met_or_breached_from_what_their_articles_published(stack: RunningStack) -> None:
    env = stack.env
    promoter = bearer(env, "promotion_specialist")
    kept = plan(env, promoter, "双十二大促")
    short = plan(env, promoter, "年终清仓")
    assert kept["status"] == "planned"
    assert kept["compliance"] == "on_track"
    assert kept["platforms"]["wechat"] == {
        "state": "missing", "article_id": None, "announced_at": None, "late_by_s": 0, "stage": None,
    }  # fmt: skip
    announce_by = datetime.fromisoformat(kept["announce_by"])
    assert announce_by == datetime.fromisoformat(kept["starts_at"]) - timedelta(days=10) + timedelta(
        seconds=45
    )

    article = announce(env, kept["id"], ["website", "wechat"])
    announce(env, short["id"], ["website"])

    def announced_on_both() -> dict[str, Any] | None:
        current = promotion(env, kept["id"])
        states = {p: x["state"] for p, x in current["platforms"].items()}
        return current if states == {"website": "announced", "wechat": "announced"} else None

    shown = wait_for(announced_on_both, "the announcement on both platforms", within=40)
    assert isinstance(shown, dict)
    assert shown["status"] == "announced"
    assert {x["article_id"] for x in shown["platforms"].values()} == {article}
    for platform in shown["platforms"].values():
        assert datetime.fromisoformat(platform["announced_at"]) < announce_by

    met = wait_for(lambda: (p := promotion(env, kept["id"]))["compliance"] == "met" and p, "met", within=90)
    breached = wait_for(
        lambda: (p := promotion(env, short["id"]))["compliance"] == "breached" and p, "breached", within=60
    )
    assert isinstance(met, dict)
    assert isinstance(breached, dict)
    assert met["status"] == "met"
    assert breached["missing"] == ["wechat"]
    assert breached["platforms"]["website"]["state"] == "announced"
    assert breached["platforms"]["wechat"]["state"] == "missing"

    calendar = httpx.get(
        api(env, "/promotions"),
        params={"from": datetime.now(UTC).isoformat(), "status": "met"},
        headers=bearer(env, "content_specialist"),
    )
    assert calendar.status_code == 200, calendar.text
    assert kept["id"] in [p["id"] for p in calendar.json()]

    temporal = [str(Path(sys.executable).parent / "temporal"), "workflow", "list",
                "--address", f"127.0.0.1:{env['MEDIAOPS_TEMPORAL_PORT']}"]  # fmt: skip

    def listed(query: str) -> str:
        out = subprocess.run([*temporal, "--query", query], capture_output=True, text=True, check=False)
        return out.stdout

    found = wait_for(
        lambda: (
            f"promotion-{short['id']}"
            in (out := listed("WorkflowType='Promotion' AND ProcessStatus='breached'"))
            and out
        ),
        "the promotion by its shared search attributes",
    )
    assert f"promotion-{kept['id']}" not in str(found)
    assert f"promotion-{kept['id']}" in listed(f"ProcessStatus='met' AND Assignee='{kept['owner']}'")
