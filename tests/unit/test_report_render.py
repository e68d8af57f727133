"""The meeting report's page and PDF (reports/render.py): Chinese labels, rule ids, Beijing time,
charts with gaps, no "inf", and the same string and bytes for the same report."""

import io
import re
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from domain.meetings import (
    ActionItem,
    CadenceLine,
    Chart,
    FigureLine,
    MeetingReport,
    PlatformFigures,
    Problem,
    RuleTally,
    Series,
)
from domain.metrics import FIGURES, change
from domain.platforms import Platform
from domain.rules import RuleId
from reports import render

WEEKS = ("2026-W46", "2026-W47", "2026-W48", "2026-W49")


def line(name: str, current: int | None, previous: int | None) -> FigureLine:
    return FigureLine(name=name, label=FIGURES[name], change=change(current, previous))


def weekly() -> MeetingReport:
    """Week 49 of 2026, made before it ended: WeChat's reads fell 30 % and its shares rose from 0;
    Weibo's figures are missing; a daily cadence missed a day; one action done, one overdue."""
    wechat = PlatformFigures(
        platform=Platform.WECHAT,
        account="gh_main",
        snapshot="snap-49",
        previous_snapshot="snap-48",
        lines=[
            line("followers_total", 12_480, 12_400),
            line("reads", 7_000, 10_000),
            line("shares", 35, 0),
        ],
    )
    weibo = PlatformFigures(platform=Platform.WEIBO, account="main", missing="微博接口超时 API timed out")
    return MeetingReport(
        id="weekly-2026-W49-20261207T062000Z",
        kind="weekly",
        rule=RuleId.WEEKLY,
        period="2026-W49",
        previous="2026-W48",
        starts_at=datetime(2026, 11, 29, 16, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 6, 16, 0, tzinfo=UTC),
        as_of=datetime(2026, 12, 7, 6, 20, tzinfo=UTC),
        partial=True,
        platforms=[wechat, weibo],
        compliance=[
            RuleTally(rule=RuleId.INQUIRY_12H, checked=10, kept=9, broken=1),
            RuleTally(rule=RuleId.REVIEW_ALL, checked=0),
        ],
        cadence=[
            CadenceLine(
                rule=RuleId.CADENCE_DAILY,
                subject="wechat",
                label="微信公众号每日更新",
                met=6,
                missed=1,
                posts=6,
                missed_periods=["2026-12-03"],
            )
        ],
        problems=[
            Problem(rule=RuleId.WEEKLY, kind="figure_fell", text="阅读次数下降 30.0%", where="wechat"),
            Problem(rule=RuleId.CADENCE_DAILY, kind="cadence_missed", text="12月3日未更新", where="wechat"),
        ],
        actions_reviewed=[
            ActionItem(
                id="a1",
                text="整理十二月选题 <plan>",
                owner="li.content",
                due=date(2026, 12, 4),
                set_at_report="weekly-2026-W48-20261130T062000Z",
                done_at=datetime(2026, 12, 3, 2, 0, tzinfo=UTC),
                status="done",
            ),
            ActionItem(
                id="a2",
                text="补发微博活动预告",
                owner="wang.ops",
                due=date(2026, 12, 5),
                set_at_report="weekly-2026-W48-20261130T062000Z",
                status="overdue",
            ),
        ],
        charts=[
            Chart(
                title="累计关注 followers (total)",
                kind="line",
                series=[
                    Series(
                        title="微信公众号",
                        points=list(zip(WEEKS, (12_100, 12_250, 12_400, 12_480), strict=True)),
                    ),
                    Series(title="微博", points=list(zip(WEEKS, (8_000, 8_100, None, 8_300), strict=True))),
                ],
            ),
            Chart(
                title="阅读次数 reads",
                kind="bar",
                series=[
                    Series(
                        title="微信公众号",
                        points=list(zip(WEEKS, (9_000, 9_500, 10_000, 7_000), strict=True)),
                    ),
                    Series(title="微博", points=list(zip(WEEKS, (3_000, None, 2_800, 2_500), strict=True))),
                ],
            ),
        ],
        threshold_pct=20,
    )


@pytest.fixture(scope="module")
def page() -> str:
    return render.html(weekly())


@pytest.fixture(scope="module")
def document() -> bytes:
    return render.pdf(weekly())


def test_page_is_a_self_contained_chinese_page(page: str) -> None:
    assert page.startswith("<!doctype html>")
    assert '<html lang="zh-CN">' in page
    assert '<meta charset="utf-8">' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=|url\(|@import""", page)


def test_page_has_the_header_in_beijing_time(page: str) -> None:
    assert "周例会 2026-W49" in page
    assert "R-WEEKLY" in page
    assert "2026-12-07 14:20 (北京时间)" in page
    assert "2026-11-30 00:00 (北京时间) – 2026-12-07 00:00 (北京时间)" in page
    assert "进行中 partial" in page
    assert "weekly-2026-W49-20261207T062000Z" in page


def test_page_has_each_platforms_figures(page: str) -> None:
    for name in ("followers_total", "reads", "shares"):
        assert FIGURES[name] in page
    assert "微信公众号" in page
    assert "微博" in page
    assert "缺失 missing: 微博接口超时 API timed out" in page
    assert "-30.0%" in page
    assert '<tr class="fell">' in page
    assert "上期为 0" in page  # the zero base: a note, no percentage
    assert "12,480" in page


def test_page_never_shows_infinity_or_nan(page: str) -> None:
    text = re.sub(r"<[^>]+>", " ", page).lower()
    assert not re.search(r"\b(inf|infinity|nan)\b", text)
    assert "∞" not in page


def test_page_has_compliance_cadence_problems_and_actions(page: str) -> None:
    for rule in ("R-INQUIRY-12H", "R-REVIEW-ALL", "R-CADENCE-DAILY"):
        assert rule in page
    assert "90.0%" in page
    assert "2026-12-03" in page
    assert "阅读次数下降 30.0%" in page
    assert "已完成" in page
    assert "已逾期" in page
    assert "&lt;plan&gt;" in page  # escaped, not markup
    assert "<plan>" not in page


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", page, flags=re.S)


def test_each_chart_is_an_accessible_svg(page: str) -> None:
    line_chart, bar_chart = svgs(page)
    for svg, title in ((line_chart, "累计关注 followers (total)"), (bar_chart, "阅读次数 reads")):
        assert f'role="img" aria-label="{title}"' in svg
        assert f"<title>{title}</title>" in svg
        for week in WEEKS:
            assert f">{week}</text>" in svg
        assert svg.count('class="key"') == 2  # the legend


def test_a_missing_point_is_a_gap_not_a_zero(page: str) -> None:
    line_chart, bar_chart = svgs(page)
    assert len(re.findall(r'<polyline [^>]*data-series="0"', line_chart)) == 1
    [broken] = re.findall(r'<polyline [^>]*data-series="1"[^>]*points="([^"]*)"', line_chart)
    assert len(broken.split()) == 2  # W46-W47; W48 is missing, and W49 is a dot alone
    assert line_chart.count("<circle") == 7
    assert len(re.findall(r'<rect class="bar" data-series="0"', bar_chart)) == 4
    assert len(re.findall(r'<rect class="bar" data-series="1"', bar_chart)) == 3
    assert 'class="gap"' in bar_chart
    assert "2026-W47 无数据" in bar_chart


def test_the_page_is_the_same_each_time(page: str) -> None:
    assert render.html(weekly()) == page


def test_pdf_is_reproducible_and_embeds_the_cjk_font(document: bytes) -> None:
    assert document.startswith(b"%PDF")
    assert render.pdf(weekly()) == document
    assert b"WenQuanYi" in document


def test_pdf_text_and_metadata_are_chinese(document: bytes) -> None:
    reader = PdfReader(io.BytesIO(document))
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("周例会", "R-WEEKLY", "微信公众号", "阅读次数", "缺失", "已逾期", "2026-12-07 14:20"):
        assert expected in text
    assert reader.metadata is not None
    assert reader.metadata.title == "周例会 2026-W49 (R-WEEKLY)"
    assert reader.metadata.subject is not None
    assert "weekly-2026-W49-20261207T062000Z" in reader.metadata.subject
    assert "inf" not in text.lower().replace("info", "")


def test_pdf_is_dated_by_the_report_not_the_clock(document: bytes) -> None:
    reader = PdfReader(io.BytesIO(document))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == datetime(2026, 12, 7, 6, 20, tzinfo=UTC)
