"""Content checks: forbidden words in any spelling, lengths, attribution (R-LAWFUL, R-NO-INSIDE, ...)."""

import pytest

from activities.content_checks import check, forbidden_words
from domain.articles import Content
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
