"""A meeting report (domain/meetings.py) as a self-contained HTML page and as a PDF, with charts.

Both are rendered from the `MeetingReport` value alone, through the same tables (`sections`) and
the same chart scale (`_Frame`), so the page and the PDF say the same thing. Neither has a time, an
id or an order of its own making: the same report gives the same string and the same bytes, so a
rendered file can be made again from the record and compared.

The PDF must show Chinese on a machine with no system fonts, so it embeds WenQuanYi Micro Hei
from the `paperang-p2-fonts-cjk` package, found with importlib.resources (never a system path);
fpdf2 embeds only the glyphs used, under its fixed subset prefix.
"""

import html as _html
import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import WrapMode
from fpdf.fonts import FontFace

from domain.meetings import (
    ActionItem,
    CadenceLine,
    Chart,
    FigureLine,
    MeetingKind,
    MeetingReport,
    PlatformFigures,
    Problem,
    RuleTally,
    Series,
)
from domain.metrics import Change, fell_by_more_than
from domain.platforms import PLATFORM_NAMES

KIND_TITLES: dict[MeetingKind, str] = {"weekly": "周例会", "monthly": "月例会", "quarterly": "季度网站会议"}
STATUS_LABELS: dict[str, str] = {"done": "已完成", "not_done": "未完成", "overdue": "已逾期"}
PROBLEM_LABELS: dict[str, str] = {
    "cadence_missed": "发布频率未达标 cadence missed",
    "breach": "违反规则 breach",
    "figure_fell": "数据下降 figure fell",
    "figures_missing": "数据缺失 figures missing",
}
NOTES: dict[str, str] = {
    "missing": "缺失 missing",
    "no_base": "无上期数据，不计变化率 no base",
    "zero_base": "上期为 0，不计变化率 zero base",
}
DASH = "—"
MISSING = "缺失 missing"
PARTIAL = "进行中 partial：本期尚未结束，数据与计数截至上述时间 (the period has not ended: figures so far)"
PALETTE: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
"""Series colours, in series order (the same in the page and the PDF)."""


# --- the content, shared by the page and the PDF --------------------------------------------------


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    flag: str = ""
    """Why a row stands out ("fell", "broken", "missing", "overdue", "missed"): a CSS class on the
    page, red in the PDF."""


@dataclass(frozen=True)
class Table:
    caption: str
    head: tuple[str, ...]
    widths: tuple[float, ...]
    """Relative column widths (the PDF's; the page sizes its own)."""
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    """Said above the table (a platform's missing figures and why)."""


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[Table, ...]


def zone_label(report: MeetingReport) -> str:
    return "北京时间" if report.timezone == "Asia/Shanghai" else report.timezone


def local(report: MeetingReport, moment: datetime) -> str:
    """A moment as the meeting reads it: in the report's zone, to the minute, zone named."""
    shown = moment.astimezone(ZoneInfo(report.timezone)).strftime("%Y-%m-%d %H:%M")
    return f"{shown} ({zone_label(report)})"


def title(report: MeetingReport) -> str:
    return f"{KIND_TITLES[report.kind]} {report.period}"


def bounds(report: MeetingReport) -> str:
    return f"{report.period}：{local(report, report.starts_at)} – {local(report, report.ends_at)}"


def header(report: MeetingReport) -> list[tuple[str, str]]:
    """The report's facts above the sections: what, which period, as of when, which edition."""
    lines = [
        ("会议规则 rule", report.rule.value),
        ("本期 period", bounds(report)),
        ("对比上期 previous", report.previous),
    ]
    if report.meeting_at is not None:
        lines.append(("会议时间 meeting", local(report, report.meeting_at)))
    lines += [
        ("数据截至 as of", local(report, report.as_of)),
        ("下降阈值 threshold", f"{report.threshold_pct:g}%"),
        ("报告编号 report id", report.id),
    ]
    return lines


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def percent(value: float | None) -> str:
    """A percentage, or a dash: a missing or zero base has none (never "inf", never "nan")."""
    return DASH if value is None or not math.isfinite(value) else f"{value:+.1f}%"


def delta(c: Change) -> str:
    return DASH if c.delta is None else f"{c.delta:+,}"


def figure_row(line: FigureLine, threshold_pct: float) -> Row:
    c = line.change
    note = NOTES.get(c.note, "")
    flag = "missing" if c.note == "missing" else ""
    if fell_by_more_than(c, threshold_pct):
        note, flag = f"下降超过 {threshold_pct:g}% fell", "fell"
    current = MISSING if c.note == "missing" else count(c.current)
    return Row((line.label, current, count(c.previous), delta(c), percent(c.pct), note), flag)


def platform_table(figures: PlatformFigures, threshold_pct: float) -> Table:
    notes = []
    if figures.missing is not None:
        notes.append(f"{MISSING}: {figures.missing}")
    if figures.previous_missing is not None:
        notes.append(f"上期缺失 previous missing: {figures.previous_missing}")
    return Table(
        caption=f"{PLATFORM_NAMES.get(figures.platform, figures.platform.value)} · {figures.account}",
        head=("指标 figure", "本期 this period", "上期 previous", "变化 change", "变化率 %", "说明 note"),
        widths=(3.2, 1.6, 1.6, 1.4, 1.2, 2.6),
        rows=tuple(figure_row(line, threshold_pct) for line in figures.lines),
        notes=tuple(notes),
    )


def compliance_row(tally: RuleTally) -> Row:
    rate = DASH if tally.hit_rate is None else f"{tally.hit_rate:.1f}%"
    cells = (tally.rule.value, *(str(n) for n in (tally.checked, tally.kept, tally.broken, tally.pending)))
    return Row((*cells, rate), "broken" if tally.broken else "")


def cadence_row(line: CadenceLine) -> Row:
    numbers = (str(line.posts), str(line.met), str(line.missed), str(line.open))
    missed = "、".join(line.missed_periods) or DASH
    flag = "missed" if line.missed else ""
    return Row((line.rule.value, f"{line.label} ({line.subject})", *numbers, missed), flag)


def problem_row(problem: Problem) -> Row:
    return Row((problem.rule.value, PROBLEM_LABELS[problem.kind], problem.text, problem.where or DASH))


def action_row(report: MeetingReport, item: ActionItem) -> Row:
    done = DASH if item.done_at is None else local(report, item.done_at)
    status = STATUS_LABELS[item.status]
    cells = (item.text, item.owner, item.due.isoformat(), status, done, item.set_at_report)
    return Row(cells, "overdue" if item.status == "overdue" else "")


TALLY = (("规则 rule", 2.4), ("检查 checked", 1), ("遵守 kept", 1), ("违反 broken", 1), ("待定 pending", 1),
         ("执行率 hit rate", 1.4))  # fmt: skip
CADENCE = (("规则 rule", 1.8), ("对象 subject", 2.6), ("发布 posts", 0.9), ("达标 met", 0.9),
           ("未达标 missed", 1.1), ("进行中 open", 1.1), ("未达标周期 missed periods", 2.6))  # fmt: skip
PROBLEMS = (("规则 rule", 1.8), ("类别 kind", 2.2), ("问题 problem", 4.4), ("位置 where", 2.2))
ACTIONS = (("事项 action", 3.4), ("负责人 owner", 1.3), ("截止 due", 1.3), ("状态 status", 1.1),
           ("完成于 done at", 2.2), ("来源 set at", 2.3))  # fmt: skip
"""The other sections' columns: heading and relative width."""


def _section(title: str, columns: tuple[tuple[str, float], ...], rows: Iterable[Row]) -> Section:
    """A section of one table, without a caption."""
    head, widths = tuple(c for c, _ in columns), tuple(w for _, w in columns)
    return Section(title, (Table(caption="", head=head, widths=widths, rows=tuple(rows)),))


def sections(report: MeetingReport) -> list[Section]:
    """The report's sections as tables, in the order the meeting goes through them."""
    threshold = report.threshold_pct
    return [
        Section("各平台数据 platform figures", tuple(platform_table(p, threshold) for p in report.platforms)),
        _section("规则执行 compliance", TALLY, map(compliance_row, report.compliance)),
        _section("发布频率 cadence", CADENCE, map(cadence_row, report.cadence)),
        _section("问题 problems", PROBLEMS, map(problem_row, report.problems)),
        _section(
            "行动计划回顾 action items", ACTIONS, (action_row(report, a) for a in report.actions_reviewed)
        ),
    ]


# --- the charts' scale, shared by the page and the PDF --------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """A chart's categories (period keys, in order) and its value axis, as fractions of the plot."""

    keys: tuple[str, ...]
    ticks: tuple[float, ...]

    def x(self, index: int) -> float:
        """The centre of a period's band, from 0 (left) to 1 (right)."""
        return (index + 0.5) / len(self.keys)

    def y(self, value: float) -> float:
        """A value's height, from 0 (the axis' bottom) to 1 (its top)."""
        low, high = self.ticks[0], self.ticks[-1]
        return (value - low) / (high - low)


def _nice_step(raw: float) -> float:
    """A tick step of 1, 2 or 5 times a power of ten, at least `raw`."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def frame(chart: Chart) -> _Frame:
    """The scale: every series' period keys in first-seen order; a bar chart's axis includes 0 (a
    bar is measured from it), a line chart's fits its values (a total's small change shows)."""
    keys = tuple(dict.fromkeys(key for s in chart.series for key, _ in s.points))
    values = [v for s in chart.series for _, v in s.points if v is not None and math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if chart.kind == "bar":
        low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    step = _nice_step((high - low) / 4)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return _Frame(keys=keys or ("",), ticks=tuple(k * step for k in range(first, last + 1)))


def number(value: float) -> str:
    """A tick or point value: an integer with separators, or up to two decimals."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def runs(frame: _Frame, series: Series) -> list[list[tuple[int, float]]]:
    """A line's stretches between missing points: a None point breaks the line (it is not a zero)."""
    index = {key: i for i, key in enumerate(frame.keys)}
    found: list[list[tuple[int, float]]] = [[]]
    for key, value in series.points:
        if value is None or not math.isfinite(value):
            found.append([])
        else:
            found[-1].append((index[key], value))
    return [run for run in found if run]


def legend(series: Series) -> str:
    return f"{series.title} ({series.unit})" if series.unit else series.title


def described(chart: Chart) -> str:
    """The chart's data as text, for a screen reader and for whoever copies the figures out."""
    parts = []
    for s in chart.series:
        points = "，".join(f"{k} {'无数据' if v is None else number(v)}" for k, v in s.points)
        parts.append(f"{legend(s)}：{points}")
    return "；".join(parts)


# --- the page --------------------------------------------------------------------------------------

STYLE = (
    "body{font-family:'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;"
    "margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.2em}"
    "td,th{border:1px solid #999;padding:4px 8px;vertical-align:top;text-align:left}"
    "th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.fell td,tr.broken td,tr.overdue td,tr.missed td{color:#a00}tr.missing td{color:#a60}"
    ".partial{background:#fff3cd;border:1px solid #e0a800;padding:.6em 1em;font-weight:bold}"
    ".missing{color:#a60}dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}"
    "dt{color:#555}dd{margin:0}svg{display:block;margin:.5em 0 1.5em;max-width:100%}"
    "svg text{font-size:11px;fill:#333}svg .grid{stroke:#ddd}svg .axis{stroke:#333}"
    "svg .gap{fill:#999}.none{color:#777}"
)
W, H, LEFT, RIGHT, TOP, BOTTOM, KEY = 640, 300, 64, 16, 32, 36, 18
"""The SVG's size, its plot's margins, and one legend row's height (below the plot), in px."""


def _e(text: object) -> str:
    return _html.escape(str(text))


NUMBER = re.compile(r"[+-]?[\d,]+(\.\d+)?%?|—")
"""A cell that is a count, a change or a percentage (or a dash for none): set right, in figures."""


def _cell(text: str) -> str:
    return f'<td class="n">{_e(text)}</td>' if NUMBER.fullmatch(text) else f"<td>{_e(text)}</td>"


def table_html(table: Table) -> str:
    notes = "".join(f'<p class="missing">{_e(n)}</p>' for n in table.notes)
    caption = f"<h3>{_e(table.caption)}</h3>" if table.caption else ""
    if not table.rows:
        return f'{caption}{notes}<p class="none">无 none</p>' if not table.notes else caption + notes
    head = "".join(f"<th>{_e(h)}</th>" for h in table.head)
    rows = "".join(
        f'<tr class="{row.flag}">' + "".join(map(_cell, row.cells)) + "</tr>" for row in table.rows
    )
    return f"{caption}{notes}<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _px(f: _Frame, index: int) -> float:
    return LEFT + f.x(index) * (W - LEFT - RIGHT)


def _py(f: _Frame, value: float) -> float:
    return TOP + (1 - f.y(value)) * (H - TOP - BOTTOM)


def _axes_svg(f: _Frame) -> list[str]:
    """Grid lines with the value ticks, the two axes and the period keys under their bands."""
    bottom = H - BOTTOM
    out = [
        f'<line class="grid" x1="{LEFT}" y1="{_py(f, t):.1f}" x2="{W - RIGHT}" y2="{_py(f, t):.1f}"/>'
        f'<text x="{LEFT - 6}" y="{_py(f, t) + 4:.1f}" text-anchor="end">{_e(number(t))}</text>'
        for t in f.ticks
    ]
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{W - RIGHT}" y2="{bottom}"/>')
    out += [
        f'<text x="{_px(f, i):.1f}" y="{bottom + 16}" text-anchor="middle">{_e(key)}</text>'
        for i, key in enumerate(f.keys)
    ]
    return out


def _line_svg(f: _Frame, n: int, series: Series) -> list[str]:
    """One series' line: a polyline per unbroken stretch and a dot per point."""
    colour, out = PALETTE[n % len(PALETTE)], []
    for run in runs(f, series):
        points = " ".join(f"{_px(f, i):.1f},{_py(f, v):.1f}" for i, v in run)
        if len(run) > 1:  # a point alone, between gaps, is its dot
            out.append(f'<polyline class="line" data-series="{n}" fill="none" stroke="{colour}" '
                       f'stroke-width="2" points="{points}"/>')  # fmt: skip
        out += [f'<circle cx="{_px(f, i):.1f}" cy="{_py(f, v):.1f}" r="3" fill="{colour}"/>' for i, v in run]
    return out


def _bars_svg(f: _Frame, n: int, series: Series, of: int) -> list[str]:
    """One series' bars, side by side with the others' in each period's band; a missing point is a
    grey "无" (no figure) at the axis, not a bar of zero."""
    band = (W - LEFT - RIGHT) / len(f.keys)
    width = band * 0.8 / of
    base = _py(f, max(f.ticks[0], min(0.0, f.ticks[-1])))
    index, out = {key: i for i, key in enumerate(f.keys)}, []
    for key, value in series.points:
        x = LEFT + index[key] * band + band * 0.1 + n * width
        if value is None or not math.isfinite(value):
            out.append(f'<text class="gap" x="{x + width / 2:.1f}" y="{base - 3:.1f}" '
                       f'text-anchor="middle">无</text>')  # fmt: skip
            continue
        top = _py(f, value)
        out.append(f'<rect class="bar" data-series="{n}" x="{x:.1f}" y="{min(top, base):.1f}" '
                   f'width="{width:.1f}" height="{abs(base - top):.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                   f"<title>{_e(f'{legend(series)} {key}: {number(value)}')}</title></rect>")  # fmt: skip
    return out


def _legend_svg(chart: Chart) -> list[str]:
    out = []
    for n, series in enumerate(chart.series):
        y = H + n * KEY + 4
        out.append(f'<rect class="key" x="{LEFT}" y="{y}" width="12" height="12" '
                   f'fill="{PALETTE[n % len(PALETTE)]}"/>')  # fmt: skip
        out.append(f'<text x="{LEFT + 18}" y="{y + 10}">{_e(legend(series))}</text>')
    return out


def chart_svg(chart: Chart) -> str:
    """A chart as inline SVG: axes, ticks, one polyline (per unbroken stretch) or one set of bars
    per series, and a legend row per series under the plot."""
    f = frame(chart)
    height = H + KEY * len(chart.series) + 8
    marks: list[str] = []
    for n, series in enumerate(chart.series):
        if chart.kind == "line":
            marks += _line_svg(f, n, series)
        else:
            marks += _bars_svg(f, n, series, len(chart.series))
    body = "".join([*_axes_svg(f), *marks, *_legend_svg(chart)])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(chart.title)}" '
        f'class="chart {chart.kind}" width="{W}" height="{height}" viewBox="0 0 {W} {height}">'
        f"<title>{_e(chart.title)}</title><desc>{_e(described(chart))}</desc>"
        f'<text x="{LEFT}" y="18" style="font-size:13px;font-weight:bold">{_e(chart.title)}</text>'
        f"{body}</svg>"
    )


def html(report: MeetingReport) -> str:
    """The report as one zh-CN page, with no script and no outside resource (it is mailed and
    archived as it is), every text escaped; the same report gives the same string."""
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in header(report))
    partial = f'<p class="partial">{_e(PARTIAL)}</p>' if report.partial else ""
    body = "".join(
        f"<section><h2>{_e(s.title)}</h2>{''.join(table_html(t) for t in s.tables)}</section>"
        for s in sections(report)
    )
    charts = "".join(chart_svg(c) for c in report.charts) or '<p class="none">无 none</p>'
    heading = f"{title(report)} · {report.rule.value}"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(heading)}</title>
<style>{STYLE}</style></head><body>
<h1>{_e(heading)}</h1>
{partial}<dl>{facts}</dl>
{body}
<section><h2>图表 charts</h2>{charts}</section>
</body></html>
"""


# --- the PDF ---------------------------------------------------------------------------------------

FONT = "WenQuanYi"
FONT_PACKAGE = "paperang_p2_fonts_cjk"
FONT_FILE = "wqy-microhei.ttc"
"""WenQuanYi Micro Hei (face 0 of the collection: the proportional one), from a package pip installs."""
RED, GREY = (170, 0, 0), (235, 235, 235)
_Map = Callable[[float], float]
"""A value's y on the page."""
_At = Callable[[int], float]
"""A period's x on the page."""


def reproducible_pdf(title: str, created: datetime) -> FPDF:
    """An A4 document whose bytes depend on what is drawn on it only: dated `created` (a report's own
    `as_of`, never now), titled. fpdf2 derives the file /ID from the content and that date and names
    a font subset with a fixed prefix, so nothing random remains."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    return pdf


@contextmanager
def cjk_font() -> Iterator[Path]:
    """The CJK font's file, from its package's data; fpdf2 reads it lazily, so it stays open for
    the whole rendering (as_file only copies when the package is not on the file system)."""
    with resources.as_file(resources.files(FONT_PACKAGE) / "fonts" / FONT_FILE) as path:
        yield path


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FONT, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    pdf.ln(1)


def _paragraph(pdf: FPDF, text: str, colour: tuple[int, int, int] = (0, 0, 0), fill: bool = False) -> None:
    pdf.set_font(FONT, size=9)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT", fill=fill, wrapmode=WrapMode.CHAR)
    pdf.set_text_color(0, 0, 0)


def _table_pdf(pdf: FPDF, table: Table) -> None:
    if table.caption:
        _heading(pdf, table.caption, 11)
    for note in table.notes:
        _paragraph(pdf, note, (170, 100, 0))
    if not table.rows:
        if not table.notes:
            _paragraph(pdf, "无 none", (120, 120, 120))
        pdf.ln(2)
        return
    pdf.set_font(FONT, size=7.5)
    headings = FontFace(family=FONT, emphasis="", fill_color=GREY)
    with pdf.table(col_widths=table.widths, text_align="LEFT", wrapmode=WrapMode.CHAR,
                   headings_style=headings, line_height=4.2, padding=1) as grid:  # fmt: skip
        grid.row(table.head)
        for row in table.rows:
            grid.row(row.cells, style=FontFace(color=RED) if row.flag else None)
    pdf.ln(3)


def _chart_pdf(pdf: FPDF, chart: Chart) -> None:
    """A chart drawn with lines and rectangles: the same scale, marks and legend as the page's."""
    f, width = frame(chart), pdf.epw
    plot_h, left, right, top, bottom = 55.0, 18.0, 4.0, 7.0, 8.0
    height = top + plot_h + bottom + 5 * len(chart.series)
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    x0, y0 = pdf.l_margin, pdf.get_y()
    plot_w = width - left - right

    def px(index: int) -> float:
        return x0 + left + f.x(index) * plot_w

    def py(value: float) -> float:
        return y0 + top + (1 - f.y(value)) * plot_h

    pdf.set_font(FONT, size=10)
    pdf.text(x0 + left, y0 + 4, chart.title)
    _axes_pdf(pdf, f, (x0 + left, x0 + left + plot_w, y0 + top, y0 + top + plot_h), py, px)
    for n, series in enumerate(chart.series):
        pdf.set_draw_color(*_rgb(PALETTE[n % len(PALETTE)]))
        pdf.set_fill_color(*_rgb(PALETTE[n % len(PALETTE)]))
        if chart.kind == "line":
            _line_pdf(pdf, f, series, px, py)
        else:
            _bars_pdf(pdf, f, series, (n, len(chart.series), x0 + left, plot_w), py)
    _legend_pdf(pdf, chart, x0 + left, y0 + top + plot_h + bottom)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(*GREY)
    pdf.set_y(y0 + height + 4)


def _axes_pdf(pdf: FPDF, f: _Frame, box: tuple[float, float, float, float], py: _Map, px: _At) -> None:
    left, right, top, bottom = box
    pdf.set_font(FONT, size=6.5)
    pdf.set_line_width(0.1)
    pdf.set_draw_color(210, 210, 210)
    for tick in f.ticks:
        label = number(tick)
        pdf.line(left, py(tick), right, py(tick))
        pdf.text(left - 1.5 - pdf.get_string_width(label), py(tick) + 1, label)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.3)
    pdf.line(left, top, left, bottom)
    pdf.line(left, bottom, right, bottom)
    for i, key in enumerate(f.keys):
        pdf.text(px(i) - pdf.get_string_width(key) / 2, bottom + 4, key)


def _line_pdf(pdf: FPDF, f: _Frame, series: Series, px: _At, py: _Map) -> None:
    pdf.set_line_width(0.5)
    for run in runs(f, series):
        points = [(px(i), py(v)) for i, v in run]
        if len(points) > 1:
            pdf.polyline(points)
        for x, y in points:
            pdf.circle(x, y, 0.8, style="F")


def _bars_pdf(pdf: FPDF, f: _Frame, series: Series, place: tuple[int, int, float, float], py: _Map) -> None:
    n, of, left, plot_w = place
    band = plot_w / len(f.keys)
    width = band * 0.8 / of
    base = py(max(f.ticks[0], min(0.0, f.ticks[-1])))
    index = {key: i for i, key in enumerate(f.keys)}
    pdf.set_font(FONT, size=6)
    for key, value in series.points:
        x = left + index[key] * band + band * 0.1 + n * width
        if value is None or not math.isfinite(value):
            pdf.set_text_color(150, 150, 150)
            pdf.text(x + width / 2 - pdf.get_string_width("无") / 2, base - 1, "无")
            pdf.set_text_color(0, 0, 0)
            continue
        top = py(value)
        pdf.rect(x, min(top, base), width, abs(base - top), style="F")


def _legend_pdf(pdf: FPDF, chart: Chart, x: float, y: float) -> None:
    pdf.set_font(FONT, size=7.5)
    for n, series in enumerate(chart.series):
        pdf.set_fill_color(*_rgb(PALETTE[n % len(PALETTE)]))
        pdf.rect(x, y + n * 5, 3, 3, style="F")
        pdf.text(x + 5, y + n * 5 + 2.7, legend(series))


def pdf(report: MeetingReport) -> bytes:
    """The report as a PDF with its Chinese text and its charts, in a font embedded from a pip
    package (no system font is assumed); the same report gives the same bytes."""
    heading = f"{title(report)} ({report.rule.value})"
    doc = reproducible_pdf(heading, report.as_of)
    doc.set_subject(f"MediaOps 会议报告 meeting report {report.id}")
    doc.set_lang("zh-CN")
    with cjk_font() as font:
        doc.add_font(FONT, fname=font, collection_font_number=0)
        doc.add_page()
        doc.set_fill_color(*GREY)
        _heading(doc, heading, 16)
        if report.partial:
            doc.set_fill_color(255, 243, 205)
            _paragraph(doc, PARTIAL, (140, 90, 0), fill=True)
            doc.set_fill_color(*GREY)
        for key, value in header(report):
            _paragraph(doc, f"{key}：{value}")
        doc.ln(3)
        for section in sections(report):
            _heading(doc, section.title, 13)
            for table in section.tables:
                _table_pdf(doc, table)
        _heading(doc, "图表 charts", 13)
        for chart in report.charts:
            _chart_pdf(doc, chart)
        return bytes(doc.output())
