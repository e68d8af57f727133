"""Lists that page: `?limit=` and an opaque `cursor`, the next one in the answer's headers.

A list used to stop silently at a fixed number of rows. Now every page says where the next one
starts: `X-Next-Cursor` and an RFC 8288 `Link: <...>; rel="next"` (the body stays the list it
always was, so no client breaks). A cursor is the sort key of the last row shown, so a page is a
keyset read (no OFFSET): a row added meanwhile does not shift the pages after it, though a row
whose sort key changes while someone pages (an article updated, say) moves to where it now sorts.
It is opaque to the caller (base64url of JSON), and one that does not decode is a 422 naming
`cursor`.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response

from domain.errors import Invalid
from domain.rules import RuleId

CURSOR_AT_MOST = 512
"""A cursor is two sort values: anything longer is not one of ours."""


@dataclass(frozen=True)
class Page:
    limit: int
    after: tuple[datetime, str] | None
    """The sort key (a time, then the id) of the last row of the page before; None: the first page."""


def encode(at: datetime, key: str) -> str:
    raw = json.dumps([at.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    """The sort key a cursor carries, or a 422 naming `cursor` (R-ACCOUNTABLE: bad input is named)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, key = json.loads(raw)
        when = datetime.fromisoformat(at).astimezone(UTC)
        if not isinstance(key, str) or "\x00" in key or not key.isprintable():
            raise ValueError(cursor)
        key.encode()  # a lone surrogate is not text PostgreSQL takes
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
        raise Invalid(RuleId.ACCOUNTABLE, "not a cursor this list gave", field="cursor") from None
    return when, key


def page_of(default: int, at_most: int = 1000) -> Any:
    """A FastAPI dependency: the page asked for, `limit` rows (default `default`) after `cursor`."""

    def page(
        limit: Annotated[int, Query(ge=1, le=at_most, description="rows per page")] = default,
        cursor: Annotated[
            str | None, Query(max_length=CURSOR_AT_MOST, description="the X-Next-Cursor of the page before")
        ] = None,
    ) -> Page:
        return Page(limit=limit, after=decode(cursor) if cursor else None)

    return page


def next_cursor(rows: list[Any], page: Page, at: str, key: str = "id") -> str | None:
    """The cursor after the last of `rows` when the page is full (a shorter page is the last one).

    `rows` were read with one row more than the page holds, so a full page is known to continue."""
    if len(rows) <= page.limit:
        return None
    last = rows[page.limit - 1]
    return encode(last[at], last[key])


def link_next(response: Response, request: Request, cursor: str | None) -> None:
    """Say where the next page starts, in the headers (nothing when this is the last page)."""
    if cursor is None:
        return
    response.headers["X-Next-Cursor"] = cursor
    response.headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
