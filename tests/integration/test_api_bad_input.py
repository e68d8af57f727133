"""Issue 10, must show 3: each bad input answers a 4xx naming its field, before any workflow sees it.

The API runs over a real PostgreSQL and a Temporal address nobody listens on: a refusal that needed
Temporal would be a 503 here, so every 422 below is proven to come from the boundary itself.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from activities.platforms.accounts import Accounts
from api.app import create_app
from deploy.fakes.app import demo_account_list
from deploy.processes import free_port
from domain.platforms import Platform
from domain.roles import Role
from eventstore.users import demo_user_id, ensure_demo_users, issue_token
from mediaops.settings import Settings

NOW = datetime.now(UTC)
ARTICLE: dict[str, Any] = {
    "title": "秋季活动预告",
    "body": "<p>活动</p>",
    "category": "news",
    "platforms": ["website"],
    "source": "市场部",
}
INQUIRY: dict[str, Any] = {
    "platform": "phone",
    "user": "张先生",
    "text": "几点开门？",
    "received_at": NOW.isoformat(),
}


@pytest.fixture(scope="module")
async def client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    """Accounts on WeChat and the website only: Weibo is a platform nobody can publish on here."""
    accounts = Accounts(
        [
            a
            for a in demo_account_list("http://127.0.0.1:9")
            if a.platform in (Platform.WECHAT, Platform.WEBSITE)
        ]
    )
    settings = Settings(database_url=database, temporal_address=f"127.0.0.1:{free_port()}", env="test")
    app = create_app(settings, accounts)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        yield http
    await app.state.mediaops.close()


@pytest.fixture(scope="module")
async def staff(database: str) -> dict[str, str]:
    conn = await asyncpg.connect(database)
    try:
        await ensure_demo_users(conn)
        token = await issue_token(conn, demo_user_id(Role.OPERATIONS_MANAGER), "test")
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {token}"}


def field_of(answer: httpx.Response) -> str:
    """The field a 422 names: FastAPI's `loc` for a shape error, our `field` for a rule's refusal."""
    body = answer.json()
    if "detail" in body and isinstance(body["detail"], list):
        return ".".join(str(p) for p in body["detail"][0]["loc"][1:2])
    return str(body["field"])


ARTICLE_CASES = [
    ({"title": ""}, "title"),
    ({"title": "长" * 201}, "title"),
    ({"title": "标题\u0000"}, "title"),
    ({"body": ""}, "body"),
    ({"body": "<p>\u0007</p>"}, "body"),
    ({"category": "gossip"}, "category"),
    ({"platforms": []}, "platforms"),
    ({"platforms": ["myspace"]}, "platforms"),
    ({"platforms": ["website", "website"]}, "platforms"),
    ({"platforms": ["weibo"]}, "platforms"),  # no Weibo account is configured
    ({"source": "s" * 501}, "source"),
    ({"source": "来源\u001b"}, "source"),
    ({"editor": "e" * 65}, "editor"),
    ({"editor": "\u0000"}, "editor"),
    ({"publish_at": "2027-01-01T10:00:00"}, "publish_at"),  # whose 10:00?
    ({"publish_at": (NOW - timedelta(hours=1)).isoformat()}, "publish_at"),
    ({"publish_at": (NOW + timedelta(days=3 * 365)).isoformat()}, "publish_at"),
]


@pytest.mark.parametrize(
    ("change", "field"), ARTICLE_CASES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(ARTICLE_CASES)]
)
async def test_a_bad_article_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any], field: str
) -> None:
    answer = await client.post("/articles", json=ARTICLE | change, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field


REVISION_CASES = [
    ({"version": 1, "title": ""}, "title"),
    ({"version": 1, "title": "t" * 300}, "title"),
    ({"version": 1, "platforms": []}, "platforms"),
    ({"version": 0}, "version"),
    ({"version": 1, "publish_at": "2027-01-01T10:00:00"}, "publish_at"),
]


@pytest.mark.parametrize(
    ("body", "field"), REVISION_CASES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(REVISION_CASES)]
)
async def test_a_bad_revision_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = await client.post("/articles/abc123/revisions", json=body, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field


INQUIRY_CASES = [
    ({"received_at": "2026-12-01T10:00:00"}, "received_at"),  # no time zone
    ({"received_at": (NOW + timedelta(hours=2)).isoformat()}, "received_at"),  # in the future
    ({"received_at": "1990-01-01T10:00:00+08:00"}, "received_at"),  # long ago, and not said to be back-filled
    ({"user": ""}, "user"),
    ({"user": "张\u0000"}, "user"),
    ({"text": "t" * 5001}, "text"),
    ({"text": "在吗\u0000"}, "text"),
    ({"platform": "myspace"}, "platform"),
    ({"platform": "wechat", "account": "no-such-account"}, "account"),
    ({"platform": "weibo", "account": "demo"}, "account"),  # no Weibo account at all
]


@pytest.mark.parametrize(
    ("change", "field"), INQUIRY_CASES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INQUIRY_CASES)]
)
async def test_a_bad_inquiry_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any], field: str
) -> None:
    answer = await client.post("/inquiries", json=INQUIRY | change, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field


async def test_an_unknown_article_status_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    """Issue 10's fuzzer: a NUL in `?status=` reached PostgreSQL, which refused it, and that was a 500."""
    for status in ("gossip", "in_review\u0000"):
        answer = await client.get("/articles", params={"status": status}, headers=staff)
        assert answer.status_code == 422, answer.text
        assert field_of(answer) == "status"
    known = await client.get("/articles", params={"status": "published"}, headers=staff)
    assert (known.status_code, known.json()) == (200, [])


async def test_a_rule_refusal_cites_its_rule(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    past = await client.post(
        "/articles", json=ARTICLE | {"publish_at": (NOW - timedelta(days=1)).isoformat()}, headers=staff
    )
    assert past.json()["rule"] == "R-ACCOUNTABLE"
    future = await client.post(
        "/inquiries", json=INQUIRY | {"received_at": (NOW + timedelta(days=1)).isoformat()}, headers=staff
    )
    assert future.json()["rule"] == "R-INQUIRY-12H"


async def test_a_back_filled_inquiry_passes_the_boundary(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    """Said to be back-filled, a year-old inquiry is taken: here it reaches Temporal, which is down (503)."""
    old = (NOW - timedelta(days=365)).isoformat()
    answer = await client.post(
        "/inquiries", json=INQUIRY | {"received_at": old, "backfilled": True}, headers=staff
    )
    assert answer.status_code == 503


async def test_a_huge_article_is_413(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    answer = await client.post("/articles", json=ARTICLE | {"body": "长" * 3_000_000}, headers=staff)
    assert (answer.status_code, answer.json()["error"]) == (413, "too_large")


# --- issue 11, must show 4: promotions and write-ups -------------------------------------------

STARTS = NOW + timedelta(days=10)
PROMOTION: dict[str, Any] = {
    "name": "双十二大促",
    "starts_at": STARTS.isoformat(),
    "ends_at": (STARTS + timedelta(days=3)).isoformat(),
    "major": True,
    "platforms": ["website", "wechat"],
}
WRITEUP: dict[str, Any] = {"name": "秋季新品发布会", "ends_at": NOW.isoformat(), "platforms": ["website"]}
PROMOTION_CASES = [
    ({"ends_at": (STARTS - timedelta(hours=1)).isoformat()}, "ends_at", "R-PROMO-3D"),
    ({"starts_at": (NOW - timedelta(days=1)).isoformat()}, "starts_at", "R-PROMO-3D"),
    (
        {
            "starts_at": (NOW + timedelta(days=800)).isoformat(),
            "ends_at": (NOW + timedelta(days=801)).isoformat(),
        },
        "starts_at",
        "R-PROMO-3D",
    ),  # beyond the policy's horizon
    ({"platforms": ["website", "myspace"]}, "platforms", None),
    ({"platforms": []}, "platforms", None),
    ({"starts_at": "2027-01-01T10:00:00"}, "starts_at", None),  # whose 10:00?
    ({"ends_at": "2027-01-05T10:00:00"}, "ends_at", None),
    ({"name": ""}, "name", None),
    ({"name": "促\u0000"}, "name", None),
    ({"major": "perhaps"}, "major", None),
    ({"owner": "Not An Id!"}, "owner", None),
    ({"owner": "nobody.here"}, "owner", "R-PROMO-3D"),  # not in the user directory
]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    PROMOTION_CASES,
    ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(PROMOTION_CASES)],
)
async def test_a_bad_promotion_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any], field: str, rule: str | None
) -> None:
    answer = await client.post("/promotions", json=PROMOTION | change, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field
    if rule is not None:
        assert answer.json()["rule"] == rule


async def test_a_major_promotion_too_close_to_its_start_cannot_meet_the_rule(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    """Planned 2 days ahead, it cannot be announced 3 days ahead: said, and it needs an acknowledgement."""
    soon = NOW + timedelta(days=2)
    close = PROMOTION | {"starts_at": soon.isoformat(), "ends_at": (soon + timedelta(days=1)).isoformat()}
    answer = await client.post("/promotions", json=close, headers=staff)
    assert answer.status_code == 422, answer.text
    assert {k: answer.json()[k] for k in ("compliance", "rule", "field")} == {
        "compliance": "cannot_meet",
        "rule": "R-PROMO-3D",
        "field": "acknowledge_late",
    }
    acknowledged = await client.post("/promotions", json=close | {"acknowledge_late": True}, headers=staff)
    assert acknowledged.status_code == 503  # past the boundary: it reaches Temporal, which is down here


WRITEUP_CASES = [
    ({"ends_at": "2026-12-01T18:00:00"}, "ends_at"),
    ({"ends_at": (NOW + timedelta(days=800)).isoformat()}, "ends_at"),
    ({"platforms": ["myspace"]}, "platforms"),
    ({"name": ""}, "name"),
    ({"owner": "nobody.here"}, "owner"),
]


@pytest.mark.parametrize(
    ("change", "field"), WRITEUP_CASES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(WRITEUP_CASES)]
)
async def test_a_bad_writeup_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any], field: str
) -> None:
    answer = await client.post("/writeups", json=WRITEUP | change, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field


LINK_CASES = [
    ({"promotion_id": "abc123"}, "category", "R-PROMO-3D"),  # an announcement is a promotion article
    ({"writeup_id": "abc123"}, "body", "R-NEWS-3WD"),  # a write-up carries its pictures
    ({"category": "promotion", "promotion_id": "a", "writeup_id": "b"}, "writeup_id", "R-ACCOUNTABLE"),
    ({"promotion_id": "Not/A/Key"}, "promotion_id", None),
]


@pytest.mark.parametrize(
    ("change", "field", "rule"), LINK_CASES, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(LINK_CASES)]
)
async def test_a_bad_article_link_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any], field: str, rule: str | None
) -> None:
    answer = await client.post("/articles", json=ARTICLE | change, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field
    if rule is not None:
        assert answer.json()["rule"] == rule


@pytest.fixture(scope="module")
async def others(database: str) -> dict[Role, dict[str, str]]:
    """Bearer headers of a content specialist and an auditor."""
    conn = await asyncpg.connect(database)
    try:
        await ensure_demo_users(conn)
        return {
            role: {"Authorization": f"Bearer {await issue_token(conn, demo_user_id(role), 'test')}"}
            for role in (Role.CONTENT_SPECIALIST, Role.AUDITOR)
        }
    finally:
        await conn.close()


async def test_a_wrong_role_is_403_naming_the_permission_and_the_rule(
    client: httpx.AsyncClient, others: dict[Role, dict[str, str]]
) -> None:
    moved = {"starts_at": STARTS.isoformat(), "ends_at": STARTS.isoformat()}
    for role, path, body, permission, rule in (
        (Role.CONTENT_SPECIALIST, "/promotions", PROMOTION, "promotion.plan", "R-PROMO-3D"),
        (Role.CONTENT_SPECIALIST, "/promotions/abc123/reschedule", moved, "promotion.plan", "R-PROMO-3D"),
        (
            Role.CONTENT_SPECIALIST,
            "/promotions/abc123/cancel",
            {"reason": "取消"},
            "promotion.plan",
            "R-PROMO-3D",
        ),
        (Role.AUDITOR, "/writeups", WRITEUP, "coverage.report", "R-NEWS-3WD"),
        (
            Role.AUDITOR,
            "/writeups/abc123/correct",
            {"ends_at": NOW.isoformat()},
            "coverage.report",
            "R-NEWS-3WD",
        ),
    ):
        answer = await client.post(path, json=body, headers=others[role])
        assert answer.status_code == 403, answer.text
        assert (answer.json()["permission"], answer.json()["rule"]) == (permission, rule)


async def test_an_id_that_no_promotion_or_write_up_could_have_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    """A NUL in a path reached PostgreSQL's text parameter once (a 500): ids are the API's own shape."""
    for method, path in (
        ("GET", "/promotions/Bad%00Id"),
        ("GET", "/writeups/NO_SUCH"),
        ("POST", "/promotions/UPPER/cancel"),
    ):
        answer = await client.request(method, path, headers=staff, json={"reason": "取消"})
        assert answer.status_code == 422, answer.text
        assert field_of(answer) == ("path" if "%00" in path else "key")  # a NUL: before any route


MEETING_CASES = [
    (
        "/owners",
        {"subject": "myspace", "user": "demo.content_specialist", "starts_on": "2026-12-01"},
        "subject",
    ),
    (
        "/owners",
        {"subject": "column:nope", "user": "demo.content_specialist", "starts_on": "2026-12-01"},
        "subject",
    ),
    ("/owners", {"subject": "website", "user": "nobody.here", "starts_on": "2026-12-01"}, "user"),
    (
        "/owners",
        {"subject": "website", "user": "demo.content_specialist", "starts_on": "2026-13-01"},
        "starts_on",
    ),
    (
        "/actions",
        {
            "report_id": "weekly-2026-W48-x",
            "text": "补齐",
            "owner": "demo.content_specialist",
            "due": "2026-12-31",
        },
        "report_id",
    ),
    (
        "/actions",
        {
            "report_id": "weekly-2026-W48-x",
            "text": "",
            "owner": "demo.content_specialist",
            "due": "2026-12-31",
        },
        "text",
    ),
    (
        "/actions",
        {
            "report_id": "weekly-2026-W48-x",
            "text": "补齐",
            "owner": "demo.content_specialist",
            "due": "next week",
        },
        "due",
    ),
    ("/reports", {"kind": "weekly", "period": "2026-W60"}, "period"),
    ("/reports", {"kind": "weekly", "period": "2026-11"}, "period"),  # a month is not a week
    ("/reports", {"kind": "monthly", "period": "2099-01"}, "period"),  # not begun
    ("/reports", {"kind": "daily", "period": "2026-11-30"}, "kind"),
    ("/columns", {"id": "Bad Id", "name": "专家说", "platform": "wechat"}, "id"),
    ("/articles", {**ARTICLE, "column_id": "no-such-column"}, "column_id"),
]


@pytest.mark.parametrize(
    ("path", "body", "field"), MEETING_CASES, ids=[f"{p}-{f}" for p, _, f in MEETING_CASES]
)
async def test_a_bad_register_or_report_field_is_422_naming_it(
    client: httpx.AsyncClient, staff: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    answer = await client.post(path, json=body, headers=staff)
    assert answer.status_code == 422, answer.text
    assert field_of(answer) == field


async def test_the_register_and_the_action_plan_are_the_operations_managers(
    client: httpx.AsyncClient, others: dict[Role, dict[str, str]]
) -> None:
    owner = {"subject": "website", "user": "demo.content_specialist", "starts_on": "2026-12-01"}
    action = {
        "report_id": "weekly-2026-W48-x",
        "text": "补齐",
        "owner": "demo.content_specialist",
        "due": "2026-12-31",
    }
    for role, path, body, permission, rule in (
        (Role.CONTENT_SPECIALIST, "/owners", owner, "department.manage", "R-KPI"),
        (Role.AUDITOR, "/actions", action, "actions.record", "R-WEEKLY"),
        (
            Role.CONTENT_SPECIALIST,
            "/reports",
            {"kind": "weekly", "period": "2026-W48"},
            "report.make",
            "R-WEEKLY",
        ),
    ):
        answer = await client.post(path, json=body, headers=others[role])
        assert answer.status_code == 403, answer.text
        assert (answer.json()["permission"], answer.json()["rule"]) == (permission, rule)
