"""What the console reads from the event store: a process's timeline and an article's versions.

The timeline is the record itself (who, what, when, under which rule), not a copy kept for the
page; the versions of an article are its `article.submitted` and `article.revised` events, so
the difference a reviewer is shown is between two contents that approvals are actually given for.
"""

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from activities.platforms.content import image_sources, plain_text
from api.console.words import EVENT_WORDS
from api.state import AppState
from domain import articles as a

TIMELINE_AT_MOST = 500


@dataclass(frozen=True)
class Entry:
    """One fact of a process: its position in its stream, what, who, when, and the rules cited."""

    version: int
    type: str
    words: str
    actor: str
    at: datetime
    rules: list[str]
    data: dict[str, Any]


def _entry(r: Any) -> Entry:
    return Entry(
        version=r["stream_version"],
        type=r["type"],
        words=EVENT_WORDS.get(r["type"], r["type"]),
        actor=str(r["data"].get("actor") or r["metadata"].get("actor") or ""),
        at=r["recorded_at"],
        rules=list(r["metadata"].get("rule_ids") or []),
        data=r["data"],
    )


async def timeline(state: AppState, stream_id: str) -> list[Entry]:
    """The stream's latest TIMELINE_AT_MOST events, oldest first (a long life shows its recent part)."""
    rows = await (await state.database()).fetch(
        """SELECT stream_version, type, data, metadata, recorded_at FROM events
            WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT $2""",
        stream_id,
        TIMELINE_AT_MOST,
    )
    return [_entry(r) for r in reversed(rows)]


REVIEW_TYPES = [
    "article.submitted", "article.revised", "article.review_requested",
    "article.approved", "article.changes_requested", "article.rejected",
]  # fmt: skip
"""What a reviewer's view is made of: the versions, the requests, the decisions."""


async def review_record(state: AppState, stream_id: str) -> list[Entry]:
    """An article's versions, review requests and decisions, however long its record is."""
    rows = await (await state.database()).fetch(
        """SELECT stream_version, type, data, metadata, recorded_at FROM events
            WHERE stream_id = $1 AND type = ANY ($2) ORDER BY stream_version""",
        stream_id,
        REVIEW_TYPES,
    )
    return [_entry(r) for r in rows]


def versions(entries: list[Entry]) -> dict[int, a.Content]:
    """Each version's content, from the submission and the revisions."""
    found: dict[int, a.Content] = {}
    for e in entries:
        if e.type in ("article.submitted", "article.revised"):
            found[int(e.data["version"])] = a.Content.model_validate(e.data["content"])
    return found


def last_decided(entries: list[Entry], actor: str) -> int | None:
    """The latest version `actor` decided on (approved, asked changes to, rejected): what they saw."""
    decided = [
        int(e.data["version"])
        for e in entries
        if e.type in ("article.approved", "article.changes_requested", "article.rejected")
        and e.data.get("actor") == actor
    ]
    return max(decided) if decided else None


_BLOCK = re.compile(r"(?i)<\s*(?:br\s*/?|/p|/h[1-6]|/li|/div|/blockquote)\s*>")
"""Where a line of the post ends: the diff is by paragraph, not one line of the whole text."""


def _lines(content: a.Content) -> list[str]:
    body = [text for text in (plain_text(block) for block in _BLOCK.split(content.body)) if text]
    return [
        f"标题：{content.title}",
        f"分类：{content.category}",
        f"涉及公司项目：{'是' if content.involves_company_project else '否'}",
        f"平台：{', '.join(p.value for p in content.platforms)}",
        f"来源：{content.source}",
        f"编辑：{content.editor}",
        *body,
        *(f"图片：{src}" for src in image_sources(content.body)),
    ]


def difference(before: a.Content, after: a.Content) -> list[tuple[str, str]]:
    """The lines that changed, as (`+`, `-` or ` `, text): the fields, then the text, then the images."""
    changed = []
    for line in difflib.ndiff(_lines(before), _lines(after)):
        sign, text = line[0], line[2:]
        if sign in "+- ":
            changed.append((sign, text))
    return changed
