"""`mediaops up` (what `make run` runs) as a person uses it: start, use, Ctrl-C, start again.

Each run picks free ports and its own state folder, so it never meets a developer's own stack.
"""

import asyncio
import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from deploy.launch import BANNER_MARK, PORTS, stack_environment
from deploy.processes import free_port, port_in_use
from tests.e2e.stack_support import RunningStack, api, bearer, cli, descendants, wait_for


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return stack_environment(tmp_path_factory.mktemp("stack") / "state")


def ports(env: dict[str, str]) -> list[int]:
    return [int(env[n]) for n in PORTS]


@pytest.fixture(scope="module")
def first_run(stack_env: dict[str, str]) -> Iterator[RunningStack]:
    stack = RunningStack(stack_env)
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.kill_all()  # the tests Ctrl-C it themselves; this is for one that failed before that


def test_it_serves_the_api_temporal_and_its_ui(first_run: RunningStack) -> None:
    env = first_run.env
    assert httpx.get(api(env, "/readyz")).json() == {"status": "ready"}
    assert httpx.get(f"http://127.0.0.1:{env['MEDIAOPS_TEMPORAL_UI_PORT']}/", timeout=10).status_code == 200
    assert httpx.get(api(env, "/docs")).status_code == 200
    banner = first_run.output()
    assert f"http://127.0.0.1:{env['MEDIAOPS_API_PORT']}" in banner
    assert BANNER_MARK in banner


def test_token_from_the_cli_opens_the_api(first_run: RunningStack) -> None:
    env = first_run.env
    assert httpx.get(api(env, "/me")).status_code == 401
    result = cli(env, "dev", "token", "content_specialist")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    me = httpx.get(api(env, "/me"), headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["roles"] == ["content_specialist"]
    (Path(env["MEDIAOPS_HOME"]) / "token-for-second-run").write_text(token)


def test_dev_dsn_points_at_the_running_database(first_run: RunningStack) -> None:
    """The application role's URL, and with --admin the owner's, each with its generated password."""
    port = first_run.env["MEDIAOPS_PG_PORT"]
    app = cli(first_run.env, "dev", "dsn").stdout.strip()
    owner = cli(first_run.env, "dev", "dsn", "--admin").stdout.strip()
    assert re.fullmatch(rf"postgresql://mediaops_app:[\w-]+@127\.0\.0\.1:{port}/mediaops", app), app
    assert re.fullmatch(rf"postgresql://mediaops:[\w-]+@127\.0\.0\.1:{port}/mediaops", owner), owner


def test_dev_commands_are_refused_in_production(first_run: RunningStack) -> None:
    result = cli({**first_run.env, "MEDIAOPS_ENV": "production"}, "dev", "dsn")
    assert result.returncode == 1
    assert "refused" in result.stderr


def test_a_signed_wechat_message_is_acknowledged_fast_and_taken_once(first_run: RunningStack) -> None:
    """Issue 4, must show 3: acknowledged in under 5 s; the same message again starts nothing."""
    env = first_run.env
    msg_id = str(int(time.time() * 1000))
    args = [
        "dev",
        "wechat-message",
        "--account",
        "demo",
        "--from",
        "o_e2e_user",
        "--text",
        "请问报名截止时间？",
    ]
    started = time.monotonic()
    first = cli(env, *args, "--msg-id", msg_id)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "200 success"
    assert time.monotonic() - started < 5
    again = cli(env, *args, "--msg-id", msg_id, "--safe")  # the same MsgId, even encrypted
    assert again.stdout.strip() == "200 success"
    workflow_id = f"inquiry-wechat-{msg_id}"
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "temporal"),
            "workflow",
            "list",
            "--address",
            f"127.0.0.1:{env['MEDIAOPS_TEMPORAL_PORT']}",
            "--query",
            f"WorkflowId = '{workflow_id}'",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert len(json.loads(listed.stdout or "[]")) == 1
    dsn = cli(env, "dev", "dsn").stdout.strip()
    events = wait_for_events(dsn, workflow_id)
    assert [e["type"] for e in events].count("inquiry.received") == 1
    # the fake WeChat knows the follower wrote (the command told it), so it takes the answer
    staff = bearer(env, "content_specialist")
    answered = httpx.post(
        api(env, f"/inquiries/{workflow_id}/reply"),
        json={"text": "报名截止到月底。"},
        headers=staff,
        timeout=30,
    )
    assert (answered.status_code, answered.json()["status"]) == (200, "answered"), answered.text
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    sent = httpx.get(f"{fakes}/wechat/__fake__/state").json()["messages_sent"]
    assert {"touser": "o_e2e_user", "text": "报名截止到月底。"} in sent


def wait_for_events(dsn: str, stream: str) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(300):  # up to 30 s on a loaded machine
                rows = await conn.fetch(
                    "SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_version", stream
                )
                if rows:
                    return [dict(r) for r in rows]
                await asyncio.sleep(0.1)
            return []
        finally:
            await conn.close()

    return asyncio.run(read())


def test_a_company_project_article_through_the_api_only(first_run: RunningStack) -> None:
    """Issue 5, must show 3: a refusal, the GM path, publishing once, Zhihu by hand, verified events."""
    env = first_run.env
    writer, promoter = bearer(env, "content_specialist"), bearer(env, "promotion_specialist")
    manager, boss = bearer(env, "operations_manager"), bearer(env, "general_manager")
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    before = {
        p: len(httpx.get(f"{fakes}/{p}/__fake__/state").json()["published"]) for p in ("website", "wechat")
    }
    body = {
        "title": "新园区项目正式开工",
        "body": f'<p>公司新园区项目今日开工。</p><img src="{fakes}/assets/site.jpg">',
        "category": "company_news",
        "involves_company_project": True,
        "platforms": ["website", "wechat", "zhihu"],
        "source": "https://www.example.com/news/park",
    }
    created = httpx.post(api(env, "/articles"), json=body, headers=writer, timeout=30)
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    url = api(env, f"/articles/{article_id}")
    article = wait_for(
        lambda: (r := httpx.get(url, headers=writer).json())["waiting_on_role"] and r, "review"
    )
    assert article["waiting_on_role"] == "operations_manager"  # type: ignore[index]

    refused = httpx.post(f"{url}/review", json={"decision": "approve", "version": 1}, headers=promoter)
    assert refused.status_code == 403
    assert refused.json()["rule"] == "R-REVIEW-ALL"

    approved = httpx.post(
        f"{url}/review", json={"decision": "approve", "version": 1}, headers=manager, timeout=30
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["waiting_on_role"] == "general_manager"
    temporal = [
        str(Path(sys.executable).parent / "temporal"),
        "workflow",
        "list",
        "--address",
        f"127.0.0.1:{env['MEDIAOPS_TEMPORAL_PORT']}",
    ]

    def listed() -> bool:
        out = subprocess.run(
            [*temporal, "--query", "WaitingOnRole='general_manager'"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"article-{article_id}" in out.stdout

    wait_for(listed, "the Temporal visibility query")
    confirmed = httpx.post(f"{url}/confirm", json={"version": 1}, headers=boss, timeout=30)
    assert confirmed.status_code == 200, confirmed.text

    def published_on_both() -> object:
        pubs = httpx.get(url, headers=writer).json()["publications"]
        return pubs if pubs["website"]["state"] == pubs["wechat"]["state"] == "published" else None

    pubs = wait_for(published_on_both, "website and WeChat to publish", within=120)
    assert pubs["zhihu"]["state"] == "publishing"  # type: ignore[index]
    assert pubs["zhihu"]["manual"] is True  # type: ignore[index]
    after = {
        p: len(httpx.get(f"{fakes}/{p}/__fake__/state").json()["published"]) for p in ("website", "wechat")
    }
    assert after == {p: n + 1 for p, n in before.items()}

    reported = httpx.post(
        f"{url}/publications/zhihu/reconcile",
        json={"url": "https://zhuanlan.zhihu.com/p/123"},
        headers=promoter,
    )
    assert reported.status_code == 200, reported.text
    final = wait_for(
        lambda: (r := httpx.get(url, headers=writer).json())["status"] == "published" and r, "published"
    )
    assert final["publications"]["zhihu"]["url"] == "https://zhuanlan.zhihu.com/p/123"  # type: ignore[index]

    dsn = cli(env, "dev", "dsn").stdout.strip()
    types = [e["type"] for e in wait_for_events(dsn, f"article-{article_id}")]
    assert types[:7] == [
        "article.submitted",
        "article.checks_passed",
        "article.review_requested",
        "article.approved",
        "article.review_requested",
        "article.approved",
        "article.publish_started",
    ]
    verified = cli(env, "events", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    listed_rows = wait_for(
        lambda: [
            r
            for r in httpx.get(api(env, "/articles?status=published"), headers=writer).json()
            if r["id"] == article_id
        ],
        "the articles read model",
    )
    assert listed_rows


@pytest.mark.parametrize("title", ["本季度内幕消息", "本季度內。幕消息", "本季度内 幕消息"])
def test_a_forbidden_word_in_any_spelling_blocks_submission(first_run: RunningStack, title: str) -> None:
    """Issue 5, must show 4."""
    env = first_run.env
    body = {
        "title": title,
        "body": "<p>正文</p>",
        "category": "news",
        "platforms": ["website"],
        "source": "市场部",
    }
    response = httpx.post(
        api(env, "/articles"), json=body, headers=bearer(env, "content_specialist"), timeout=30
    )
    assert response.status_code == 422, response.text
    assert response.json()["rules"] == ["R-NO-INSIDE"]
    assert response.json()["article"]["status"] == "checks_failed"


def test_bad_article_input_is_a_clear_4xx(first_run: RunningStack) -> None:
    env = first_run.env
    writer = bearer(env, "content_specialist")
    bad = httpx.post(api(env, "/articles"), json={"title": "t", "category": "gossip"}, headers=writer)
    assert bad.status_code == 422
    fields = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert ("body", "category") in fields
    assert ("body", "body") in fields
    missing = httpx.get(api(env, "/articles/no-such-article"), headers=writer)
    assert missing.status_code == 404
    auditor = httpx.post(
        api(env, "/articles"),
        json={"title": "t", "body": "b", "category": "news", "platforms": ["website"]},
        headers=bearer(env, "auditor"),
    )
    assert (auditor.status_code, auditor.json()["permission"]) == (403, "article.submit")
    good = {"title": "t", "body": "<p>b</p>", "category": "news", "platforms": ["website"], "source": "s"}
    for change, field in (
        ({"title": "标题\u0000"}, "title"),
        ({"publish_at": "2027-01-01T10:00:00"}, "publish_at"),  # whose 10:00?
    ):
        refused = httpx.post(api(env, "/articles"), json=good | change, headers=writer)
        assert refused.status_code == 422, refused.text
        assert ("body", field) in {tuple(e["loc"][:2]) for e in refused.json()["detail"]}
    naive = {
        "platform": "phone",
        "user": "张先生",
        "text": "几点开门？",
        "received_at": "2026-12-01T10:00:00",
    }
    refused = httpx.post(api(env, "/inquiries"), json=naive, headers=writer)
    assert refused.status_code == 422
    assert ("body", "received_at") in {tuple(e["loc"][:2]) for e in refused.json()["detail"]}
    huge = httpx.post(
        api(env, "/articles"), json=good | {"body": "<p>" + "长" * 3_000_000 + "</p>"}, headers=writer
    )
    assert (huge.status_code, huge.json()["error"]) == (413, "too_large")


def test_a_wechat_message_becomes_an_inquiry_answered_once_through_the_api(first_run: RunningStack) -> None:
    """Issue 6, must show 2 and 3."""
    env = first_run.env
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    msg_id = str(int(time.time() * 1000) + 7)
    user = f"o_{msg_id}"
    pushed = httpx.post(
        f"{fakes}/wechat/__fake__/user-message",
        json={"appid": "wxdemo0000000001", "openid": user, "text": "请问周末营业吗？", "msg_id": msg_id},
        timeout=30,
    ).json()
    assert (pushed["status"], pushed["body"]) == (200, "success")
    inquiry = f"inquiry-wechat-{msg_id}"
    staff, auditor = bearer(env, "content_specialist"), bearer(env, "auditor")
    url = api(env, f"/inquiries/{inquiry}")
    shown = wait_for(
        lambda: (r := httpx.get(url, headers=staff)).status_code == 200 and r.json()["deadline"] and r.json(),
        "the inquiry",
    )
    assert shown["status"] == "open"  # type: ignore[index]
    assert shown["platform"] == "wechat"  # type: ignore[index]
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "temporal"),
            "workflow",
            "list",
            "--address",
            f"127.0.0.1:{env['MEDIAOPS_TEMPORAL_PORT']}",
            "--query",
            f"WorkflowId='{inquiry}' AND InquiryStatus='open'",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert inquiry in listed.stdout

    assert httpx.post(f"{url}/escalate", json={"reason": "投诉"}, headers=auditor).status_code == 403
    assert httpx.post(f"{url}/escalate", json={"reason": ""}, headers=staff).status_code == 422
    reported = httpx.post(f"{url}/escalate", json={"reason": "可能是质量投诉"}, headers=staff, timeout=30)
    assert reported.status_code == 200, reported.text
    assert reported.json()["escalated"] is True
    assert httpx.post(f"{url}/reply", json={"text": "您好"}, headers=auditor).status_code == 403
    assert httpx.post(f"{url}/reply", json={"text": "   "}, headers=staff).status_code == 422
    assert httpx.post(f"{url}/reply", json={"text": "字" * 3000}, headers=staff).status_code == 422
    answered = httpx.post(f"{url}/reply", json={"text": "您好，周末照常营业。"}, headers=staff, timeout=30)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert answered.json()["within_sla"] is True
    again = httpx.post(f"{url}/reply", json={"text": "您好，周末照常营业。"}, headers=staff, timeout=30)
    assert again.status_code in (404, 409)  # answered: the workflow has finished or refuses
    sent = [
        m
        for m in httpx.get(f"{fakes}/wechat/__fake__/state").json()["messages_sent"]
        if m.get("touser") == user
    ]
    assert sent == [{"touser": user, "text": "您好，周末照常营业。"}]
    types = [e["type"] for e in wait_for_events(cli(env, "dev", "dsn").stdout.strip(), inquiry)]
    assert types[:2] == ["inquiry.received", "inquiry.sla_started"]
    wait_for(
        lambda: (
            "inquiry.replied"
            in [e["type"] for e in wait_for_events(cli(env, "dev", "dsn").stdout.strip(), inquiry)]
        ),
        "the reply event",
    )
    csv_text = wait_for(
        lambda: inquiry in (t := httpx.get(api(env, "/inquiries/export.csv"), headers=auditor).text) and t,
        "the record",
    )
    assert csv_text.splitlines()[0].lstrip("\ufeff").startswith("id,platform,account,user,status")  # type: ignore[union-attr]


def test_a_user_who_writes_again_after_the_answer_reopens_their_inquiry(first_run: RunningStack) -> None:
    """Issue 6: the same conversation, a new 12-hour clock; no second inquiry for the follow-up."""
    env = first_run.env
    fakes = f"http://127.0.0.1:{env['MEDIAOPS_FAKES_PORT']}"
    first_id = str(int(time.time() * 1000) + 11)
    user = f"o_again_{first_id}"
    staff = bearer(env, "content_specialist")

    def push(msg_id: str, text: str) -> None:
        pushed = httpx.post(
            f"{fakes}/wechat/__fake__/user-message",
            json={"appid": "wxdemo0000000001", "openid": user, "text": text, "msg_id": msg_id},
            timeout=30,
        ).json()
        assert (pushed["status"], pushed["body"]) == (200, "success")

    push(first_id, "请问可以开发票吗？")
    url = api(env, f"/inquiries/inquiry-wechat-{first_id}")
    wait_for(lambda: httpx.get(url, headers=staff).json().get("deadline"), "the inquiry")
    answered = httpx.post(f"{url}/reply", json={"text": "可以的。"}, headers=staff, timeout=30).json()
    assert answered["status"] == "answered"

    def answered_ids() -> list[str]:
        return [i["id"] for i in httpx.get(api(env, "/inquiries?status=answered"), headers=staff).json()]

    wait_for(lambda: f"inquiry-wechat-{first_id}" in answered_ids(), "the answer in the read model")
    second_id = str(int(first_id) + 1)
    push(second_id, "那电子发票呢？")
    reopened = wait_for(
        lambda: (v := httpx.get(url, headers=staff).json())["reopened"] == 1 and v, "the reopened inquiry"
    )
    assert reopened["status"] == "open"  # type: ignore[index]
    follow_up_sent = datetime.fromisoformat(reopened["messages"][1]["sent_at"])  # type: ignore[index]
    assert datetime.fromisoformat(reopened["deadline"]) == follow_up_sent + timedelta(hours=12)  # type: ignore[index]
    assert [m["text"] for m in reopened["messages"]] == ["请问可以开发票吗？", "那电子发票呢？"]  # type: ignore[index]
    assert httpx.get(api(env, f"/inquiries/inquiry-wechat-{second_id}"), headers=staff).status_code == 404
    again = httpx.post(f"{url}/reply", json={"text": "电子发票也可以。"}, headers=staff, timeout=30).json()
    assert (again["status"], again["within_sla"]) == ("answered", True)
    sent = [
        m["text"]
        for m in httpx.get(f"{fakes}/wechat/__fake__/state").json()["messages_sent"]
        if m.get("touser") == user
    ]
    assert sent == ["可以的。", "电子发票也可以。"]


def temporal_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    address = ["--address", f"127.0.0.1:{env['MEDIAOPS_TEMPORAL_PORT']}"]
    binary = str(Path(sys.executable).parent / "temporal")
    return subprocess.run([binary, *args, *address], capture_output=True, text=True, timeout=60, check=False)


def event_rows(env: dict[str, str], stream: str) -> list[tuple[str, str]]:
    """(type, data) of a stream's events, read as the application role."""

    async def read() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(cli(env, "dev", "dsn").stdout.strip())
        try:
            rows = await conn.fetch(
                "SELECT type, data::text AS data FROM events WHERE stream_id = $1 ORDER BY stream_version",
                stream,
            )
            return [(r["type"], r["data"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def submitted(env: dict[str, str], who: dict[str, str], **changes: object) -> str:
    body = {"title": "公司周年庆", "body": "<p>感谢一路同行。</p>", "category": "company_news",
            "platforms": ["website"], "source": "市场部", **changes}  # fmt: skip
    created = httpx.post(api(env, "/articles"), json=body, headers=who, timeout=30)
    assert created.status_code == 201, created.text
    article_id: str = created.json()["id"]
    wait_for(lambda: httpx.get(api(env, f"/articles/{article_id}"), headers=who).json()["waiting_on_role"],
             "the review")  # fmt: skip
    return article_id


def test_a_forged_decision_from_the_temporal_cli_is_refused_and_a_signed_one_works(
    first_run: RunningStack,
) -> None:
    """Issue 9, must show 1: the forged signal and update change nothing and are recorded."""
    env = first_run.env
    writer, manager = bearer(env, "content_specialist"), bearer(env, "operations_manager")
    article_id = submitted(env, writer)
    workflow_id = f"article-{article_id}"
    forged = json.dumps({"kind": "review", "actor": {"id": "someone.forged", "roles": ["operations_manager"]},
                         "decision": "approve", "version": 1, "at": "2026-12-01T16:00:00Z"})  # fmt: skip
    internal = json.dumps({"kind": "record_outcome", "platform": "website", "at": "2026-12-01T16:00:00Z",
                           "outcome": {"state": "published", "url": "https://evil.example/"}})  # fmt: skip
    for payload in (forged, internal):
        sent = temporal_cli(env, "workflow", "signal", "--workflow-id", workflow_id, "--name", "decision",
                            "--input", payload)  # fmt: skip
        assert sent.returncode == 0, sent.stderr
    update = temporal_cli(env, "workflow", "update", "execute", "--workflow-id", workflow_id,
                          "--name", "review", "--input", forged)  # fmt: skip
    assert update.returncode != 0
    wait_for(
        lambda: [t for t, _ in event_rows(env, workflow_id)].count("command.refused") >= 3, "the refusals"
    )
    types = [t for t, _ in event_rows(env, workflow_id)]
    assert "article.approved" not in types
    assert "article.publication_recorded" not in types
    shown = httpx.get(api(env, f"/articles/{article_id}"), headers=writer).json()
    assert (shown["status"], shown["waiting_on_role"], shown["approvals"]) == (
        "in_review",
        "operations_manager",
        [],
    )

    token = manager["Authorization"].removeprefix("Bearer ")
    decision = {"kind": "review", "version": 1, "decision": "approve"}
    signed = cli({**env, "MEDIAOPS_TOKEN": token}, "ops", "sign", "--workflow-id", workflow_id,
                 "--command", json.dumps(decision))  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    sent = temporal_cli(env, "workflow", "signal", "--workflow-id", workflow_id, "--name", "decision",
                        "--input", signed.stdout.strip())  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    published = wait_for(
        lambda: (a := httpx.get(api(env, f"/articles/{article_id}"), headers=writer).json())["status"]
        == "published" and a, "the signed ops decision to publish", within=90)  # fmt: skip
    assert [x["actor"] for x in published["approvals"]] == ["demo.operations_manager"]  # type: ignore[index]


def test_each_refusal_kind_through_the_api(first_run: RunningStack) -> None:
    """Issue 9, must show 2: 403 / 409 / 422 naming the rule, separation of duties included."""
    env = first_run.env
    writer, manager = bearer(env, "content_specialist"), bearer(env, "operations_manager")
    added = cli(env, "users", "add", "zhou.both", "--role", "operations_manager", "--role", "general_manager")
    assert added.returncode == 0, added.stderr
    both = {"Authorization": f"Bearer {cli(env, 'users', 'token', 'zhou.both').stdout.strip()}"}

    own = submitted(env, manager)
    self_review = httpx.post(api(env, f"/articles/{own}/review"), json={"decision": "approve", "version": 1},
                             headers=manager, timeout=30)  # fmt: skip
    assert (self_review.status_code, self_review.json()["rule"]) == (403, "R-REVIEW-ALL")
    assert "own post" in self_review.json()["detail"]

    project = submitted(env, writer, involves_company_project=True)
    url = api(env, f"/articles/{project}")
    stale = httpx.post(f"{url}/review", json={"decision": "approve", "version": 9}, headers=both, timeout=30)
    assert (stale.status_code, stale.json()["rule"]) == (409, "R-REVIEW-ALL")
    no_comment = httpx.post(f"{url}/review", json={"decision": "request_changes", "version": 1}, headers=both,
                            timeout=30)  # fmt: skip
    assert (no_comment.status_code, no_comment.json()["field"]) == (422, "comment")
    first = httpx.post(f"{url}/review", json={"decision": "approve", "version": 1}, headers=both, timeout=30)
    assert first.status_code == 200, first.text
    second = httpx.post(f"{url}/confirm", json={"version": 1}, headers=both, timeout=30)
    assert (second.status_code, second.json()["rule"]) == (403, "R-REVIEW-PROJECT")
    assert "two approvals" in second.json()["detail"]
    colleague = bearer(env, "promotion_specialist")
    withdrawn = httpx.post(f"{url}/withdraw", json={"reason": "x"}, headers=colleague, timeout=30)
    assert (withdrawn.status_code, withdrawn.json()["permission"]) == (403, "article.change_others")


def test_histories_are_encrypted_and_the_ui_decodes_them_through_the_api(first_run: RunningStack) -> None:
    """Issue 9, must show 3."""
    env = first_run.env
    secret_text = "我的订单号是 ZX-20261201-7788，请帮我查一下"
    msg_id = str(int(time.time() * 1000) + 11)
    sent = cli(env, "dev", "wechat-message", "--from", "o_codec", "--text", secret_text, "--msg-id", msg_id)
    assert sent.returncode == 0, sent.stderr
    workflow_id = f"inquiry-wechat-{msg_id}"
    wait_for(lambda: temporal_cli(env, "workflow", "describe", "--workflow-id", workflow_id).returncode == 0,
             "the inquiry")  # fmt: skip
    shown = temporal_cli(env, "workflow", "show", "--workflow-id", workflow_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    assert "ZX-20261201-7788" not in shown.stdout
    assert "o_codec" not in shown.stdout
    history = json.loads(shown.stdout)
    started = next(e for e in history["events"] if "workflowExecutionStartedEventAttributes" in e)
    payloads = started["workflowExecutionStartedEventAttributes"]["input"]
    assert httpx.post(api(env, "/codec/decode"), json=payloads).status_code == 401
    staff = httpx.post(api(env, "/codec/decode"), json=payloads, headers=bearer(env, "content_specialist"))
    assert (staff.status_code, staff.json()["permission"]) == (403, "payloads.read")
    ui = f"http://127.0.0.1:{env['MEDIAOPS_TEMPORAL_UI_PORT']}"
    decoded = httpx.post(api(env, "/codec/decode"), json=payloads, headers=bearer(env, "auditor") | {
        "Origin": ui}, timeout=30)  # fmt: skip
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == ui
    data = base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
    assert secret_text in data
    elsewhere = httpx.options(api(env, "/codec/decode"), headers={"Origin": "http://evil.example",
                              "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in elsewhere.headers
    settings = httpx.get(f"{ui}/api/v1/settings", timeout=10).json()
    assert settings["Codec"]["Endpoint"] == api(env, "/codec")


def test_a_killed_worker_is_started_again_and_the_work_goes_on(first_run: RunningStack) -> None:
    """kill -9 of the worker no longer stops the stack: it is started again, and the work goes on."""
    env = first_run.env

    def workers() -> list[psutil.Process]:
        found = []
        for process in descendants(first_run.process.pid):
            with contextlib.suppress(psutil.Error):  # a child that just died is a zombie until reaped
                if process.cmdline()[-2:] == ["cli", "worker"] and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found

    [worker] = workers()
    worker.kill()
    again = wait_for(lambda: [p for p in workers() if p.pid != worker.pid], "a new worker", within=30)
    assert again
    assert "starting it again" in first_run.output()
    msg_id = str(int(time.time() * 1000) + 23)
    sent = cli(
        env, "dev", "wechat-message", "--from", "o_after_kill", "--text", "还在吗？", "--msg-id", msg_id
    )
    assert sent.returncode == 0, sent.stderr
    staff = bearer(env, "content_specialist")
    url = api(env, f"/inquiries/inquiry-wechat-{msg_id}")
    wait_for(
        lambda: (r := httpx.get(url, headers=staff)).status_code == 200 and r.json()["deadline"],
        "the inquiry",
    )
    assert httpx.get(api(env, "/readyz")).json()["status"] == "ready"


def test_ctrl_c_stops_everything_it_started(first_run: RunningStack) -> None:
    code, leftovers = first_run.interrupt_all()
    assert code == 0, first_run.output()
    assert leftovers == []
    assert not any(port_in_use(p) for p in ports(first_run.env))


def test_a_second_run_reuses_the_data(first_run: RunningStack) -> None:
    """Same state folder: the token issued in the first run still authenticates."""
    assert first_run.process.poll() is not None, "runs after test_ctrl_c_stops_everything_it_started"
    token = (Path(first_run.env["MEDIAOPS_HOME"]) / "token-for-second-run").read_text()
    second = RunningStack(first_run.env)
    try:
        second.wait_ready()
        me = httpx.get(api(first_run.env, "/me"), headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    finally:
        code, leftovers = second.interrupt_all()
    assert code == 0
    assert leftovers == []


def test_a_taken_port_is_named_before_anything_starts(stack_env: dict[str, str], tmp_path: Path) -> None:
    env = {**stack_env, "MEDIAOPS_HOME": str(tmp_path / "fresh"), "MEDIAOPS_API_PORT": str(free_port())}
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["MEDIAOPS_API_PORT"])))
        blocker.listen()
        result = cli(env, "up")
    assert result.returncode == 1
    assert f"port {env['MEDIAOPS_API_PORT']} (the API" in result.stderr
    assert not (tmp_path / "fresh").exists()
