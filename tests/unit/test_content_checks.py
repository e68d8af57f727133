"""Content checks: forbidden words in any spelling, lengths, attribution (R-LAWFUL, R-NO-INSIDE, ...),
and images the worker could never fetch (R-ACCOUNTS) or WeChat would refuse (R-LENGTH)."""

import pytest

from activities.content_checks import CheckRequest, ContentChecks, check, forbidden_words
from activities.platforms.accounts import Account, Accounts
from domain.articles import Content, Problem
from domain.platforms import Platform
from domain.policy import Policy, policy_from_mapping
from domain.rules import RuleId


@pytest.mark.parametrize(
    "text",
    ["这是内幕消息", "這是內幕消息", "内 幕", "內。幕", "内\u200b幕", "内-幕", "ＮＥＩ内幕"],
)
def test_a_forbidden_word_in_any_spelling(text: str) -> None:
    assert [p.rule for p in forbidden_words(text)] == [RuleId.NO_INSIDE]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("全網第一的服务", RuleId.LAWFUL),
        ("欢迎加我 微信", RuleId.NO_PERSONAL),
        ("本产品国家级认证", RuleId.LAWFUL),
    ],
)
def test_each_list_cites_its_rule(text: str, rule: RuleId) -> None:
    assert [p.rule for p in forbidden_words(text)] == [rule]


def test_clean_text_passes() -> None:
    assert forbidden_words("秋季招聘正式启动，欢迎投递简历。") == []


def content(**changes: object) -> Content:
    fields: dict[str, object] = {
        "title": "秋季招聘正式启动",
        "body": "<p>欢迎投递简历。</p>",
        "category": "recruitment",
        "platforms": (Platform.WEBSITE,),
        "source": "人力资源部",
        "editor": "li.content",
    }
    return Content(**{**fields, **changes})


def test_attribution_is_required() -> None:
    result = check(content(source=""), "li.content", Policy())
    assert [(p.rule, p.message) for p in result.problems] == [
        (RuleId.ACCOUNTABLE, "the source must be named")
    ]


def test_platform_limits_and_the_length_option() -> None:
    too_long_for_wechat = check(content(title="标" * 33, platforms=(Platform.WECHAT,)), "a", Policy())
    assert [p.rule for p in too_long_for_wechat.problems] == [RuleId.LENGTH]
    brief = content(category="news", body="<p>" + "字" * 301 + "</p>")
    assert check(brief, "a", Policy()).problems == []
    strict = policy_from_mapping({"R-LENGTH": {"enabled": True}})
    assert [p.rule for p in check(brief, "a", strict).problems] == [RuleId.LENGTH]


def test_the_result_names_the_wordlist_version() -> None:
    assert check(content(), "a", Policy()).wordlist_version == "forbidden-2026.11"


def wechat_account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "platform": Platform.WECHAT,
        "name": "main",
        "base_url": "https://api.weixin.qq.com",
        "appid": "wx0000000000000001",
        "token": "callback-token",
        "original_id": "gh_000000000001",
        "image_hosts": ("127.0.0.1:8900",),
        "default_cover": "",
    }
    return Account.model_validate({**fields, **changes})


def website_account(**changes: object) -> Account:
    fields = {"platform": Platform.WEBSITE, "name": "site", "base_url": "https://www.example.com"}
    return Account.model_validate({**fields, **changes})


async def problems_of(
    body: str, *accounts: Account, chosen: dict[Platform, str] | None = None
) -> list[Problem]:
    platforms = tuple(dict.fromkeys(a.platform for a in accounts)) or (Platform.WECHAT,)
    request = CheckRequest(content=content(body=body, platforms=platforms), author="a", accounts=chosen or {})
    return (await ContentChecks(Policy(), Accounts(list(accounts))).check(request)).problems


async def test_images_the_worker_may_not_fetch_are_refused_naming_position_and_host() -> None:
    body = (
        '<p>图</p><img src="https://8.8.8.8/ok.jpg"><img src="/uploads/a.jpg">'
        '<img src="http://127.0.0.1:8000/healthz"><img src="mailto:x@example.com">'
        '<img src="http://169.254.169.254/latest/meta-data/"><img src="http://127.0.0.1:8900/assets/a.jpg">'
    )
    found = await problems_of(body, wechat_account())
    assert [(p.rule, p.message) for p in found] == [
        (
            RuleId.ACCOUNTS,
            "image 2 has no absolute http(s) address: a relative, protocol-relative or mailto: source "
            "cannot be fetched",
        ),
        (
            RuleId.ACCOUNTS,
            "image 3 (127.0.0.1:8000) is not on a public host, nor on the image hosts of the wechat "
            "account 'main'",
        ),
        (
            RuleId.ACCOUNTS,
            "image 4 has no absolute http(s) address: a relative, protocol-relative or mailto: source "
            "cannot be fetched",
        ),
        (
            RuleId.ACCOUNTS,
            "image 5 (169.254.169.254) is not on a public host, nor on the image hosts of the wechat "
            "account 'main'",
        ),
    ]


async def test_each_account_the_article_publishes_on_is_asked() -> None:
    body = '<p>图</p><img src="http://127.0.0.1:8900/assets/a.jpg">'
    assert await problems_of(body, wechat_account()) == []
    both = await problems_of(body, wechat_account(), website_account())
    assert [p.message for p in both] == [
        "image 1 (127.0.0.1:8900) is not on a public host, nor on the image hosts of the website "
        "account 'site'"
    ]
    listed = await problems_of(body, wechat_account(), website_account(image_hosts=("127.0.0.1:8900",)))
    assert listed == []


async def test_the_article_s_own_account_is_the_one_checked() -> None:
    body = '<p>图</p><img src="http://127.0.0.1:8900/assets/a.jpg">'
    accounts = (wechat_account(), wechat_account(name="other", image_hosts=()))
    assert await problems_of(body, *accounts) == []  # none named: the first configured one
    refused = await problems_of(body, *accounts, chosen={Platform.WECHAT: "other"})
    assert [p.rule for p in refused] == [RuleId.ACCOUNTS]
    unknown = await problems_of(body, *accounts, chosen={Platform.WECHAT: "gone"})
    assert [p.message for p in unknown] == ["no wechat account named 'gone' is configured"]


async def test_wechat_needs_a_cover_and_a_format_it_takes() -> None:
    text_only = "<p>只有文字</p>"
    assert [(p.rule, p.message) for p in await problems_of(text_only, wechat_account())] == [
        (
            RuleId.LENGTH,
            "wechat: an article needs a cover image: add an image to the post (the first one is the "
            "cover), or give the wechat account 'main' a default cover",
        )
    ]
    covered = wechat_account(default_cover="https://cdn.example.com/cover.jpg")
    assert await problems_of(text_only, covered) == []
    assert await problems_of(text_only, wechat_account(default_cover="thumb_media_1")) == []
    assert await problems_of(text_only, website_account()) == []  # only WeChat needs one
    gif = await problems_of('<img src="http://127.0.0.1:8900/anim.gif">', wechat_account())
    assert [(p.rule, p.message) for p in gif] == [
        (
            RuleId.LENGTH,
            "wechat: image 1 (127.0.0.1:8900) is named as neither a JPEG nor a PNG, the only formats "
            "WeChat takes",
        )
    ]
