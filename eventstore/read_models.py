"""Read models kept by projections; each folds events with the same `evolve` the workflows use.

Every read model here is one row per process (one event stream): the row keeps the folded state
as jsonb next to the columns lists and dashboards filter on. A batch's events for a stream are
folded onto the state stored in its row, so a row is always exactly what replaying its stream
from the start gives, whether it was built in one batch, in many, or by a rebuild.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel

from domain import articles, inquiries, promotions, writeups
from domain.decider import Decider
from domain.events import REGISTRY
from eventstore.db import Conn
from eventstore.store import RecordedEvent

S = TypeVar("S", bound=BaseModel)


class FoldingProjection(ABC, Generic[S]):
    """A process's read model: one row per `stream_prefix` stream, its state folded by `decider`.

    Only events whose type starts with `event_prefix` are folded: another process's events never
    reach this one's `evolve`, even on a stream that happens to share the prefix. `table` has an
    `id` text key (`key`) and a `state` jsonb column holding the whole state, which is what the next
    batch folds onto; `write` upserts the row, its other columns derived from that state.
    """

    name: str
    """The projection's checkpoint name."""
    table: str
    """A constant of the subclass, never input: it is put into the SQL as it is."""
    stream_prefix: str
    event_prefix: str
    model: type[S]
    decider: Decider[S]

    def key(self, stream_id: str) -> str:
        """The row's id for a stream: by default the stream id without its prefix."""
        return stream_id.removeprefix(self.stream_prefix)

    def folds(self, event: RecordedEvent) -> bool:
        """This process's event on one of its streams (another type there is not its business)."""
        return event.stream_id.startswith(self.stream_prefix) and event.type.startswith(self.event_prefix)

    @abstractmethod
    async def write(self, conn: Conn, key: str, state: S) -> None:
        """Upsert the row `key` with `state` (and `updated_at = now()` when it existed)."""

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        touched: dict[str, S] = {}
        for event in events:
            if not self.folds(event):
                continue
            key = self.key(event.stream_id)
            if key not in touched:
                touched[key] = await self._stored(conn, key)
            domain_event = REGISTRY.decode(event.type, event.schema_version, event.data)
            touched[key] = self.decider.evolve(touched[key], domain_event)
        for key, state in touched.items():
            await self.write(conn, key, state)

    async def _stored(self, conn: Conn, key: str) -> S:
        """The state the row holds, or the initial state for a stream not seen yet."""
        stored = await conn.fetchval(f"SELECT state FROM {self.table} WHERE id = $1", key)  # noqa: S608
        return self.model.model_validate(stored) if stored is not None else self.decider.initial()

    async def reset(self, conn: Conn) -> None:
        await conn.execute(f"TRUNCATE {self.table}")


def as_json(state: BaseModel) -> object:
    """The state as the jsonb column keeps it (what `model_validate` reads back)."""
    return json.loads(state.model_dump_json())


ARTICLE_PREFIX = "article-"


class ArticlesProjection(FoldingProjection[articles.Article]):
    """`articles`: one row per article with its status, who it waits on, and its publications."""

    name = "articles"
    table = "articles"
    stream_prefix = ARTICLE_PREFIX
    event_prefix = "article."
    model = articles.Article
    decider = articles.ARTICLES

    async def write(self, conn: Conn, key: str, state: articles.Article) -> None:
        content = state.content
        await conn.execute(
            """INSERT INTO articles AS t
                   (id, status, version, waiting_on_role, author, title, platforms, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version,
                   waiting_on_role = EXCLUDED.waiting_on_role, title = EXCLUDED.title,
                   platforms = EXCLUDED.platforms, state = EXCLUDED.state, updated_at = now()""",
            key,
            state.status.value,
            state.version,
            state.waiting_on.value if state.waiting_on else None,
            state.author,
            content.title if content else "",
            [p.value for p in content.platforms] if content else [],
            as_json(state),
        )


INQUIRY_PREFIX = "inquiry-"


class InquiriesProjection(FoldingProjection[inquiries.Inquiry]):
    """`inquiries`: the consultation record, one row per inquiry, with its SLA outcome."""

    name = "inquiries"
    table = "inquiries"
    stream_prefix = INQUIRY_PREFIX
    event_prefix = "inquiry."
    model = inquiries.Inquiry
    decider = inquiries.INQUIRIES

    def key(self, stream_id: str) -> str:
        """The whole stream id (`inquiry-<platform>-<message id>`): what the API and intake look up."""
        return stream_id

    async def write(self, conn: Conn, key: str, state: inquiries.Inquiry) -> None:
        await conn.execute(
            """INSERT INTO inquiries AS t (id, platform, account, "user", status, received_at, deadline,
                                          answered_at, within_sla, assignee, state, kind, reopened)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, deadline = EXCLUDED.deadline,
                   answered_at = EXCLUDED.answered_at, within_sla = EXCLUDED.within_sla,
                   assignee = EXCLUDED.assignee, state = EXCLUDED.state, reopened = EXCLUDED.reopened,
                   updated_at = now()""",
            key,
            str(state.platform or ""),
            state.account,
            state.user,
            state.status,
            state.received_at,
            state.deadline,
            state.answered_at,
            state.within_sla,
            state.assignee,
            as_json(state),
            state.kind,
            state.reopened,
        )


PROMOTION_PREFIX = "promotion-"


class PromotionsProjection(FoldingProjection[promotions.Promotion]):
    """`promotions` (R-PROMO-3D): the promotion calendar, one row per promotion, with its compliance
    and each platform's announcement (in `state`)."""

    name = "promotions"
    table = "promotions"
    stream_prefix = PROMOTION_PREFIX
    event_prefix = "promotion."
    model = promotions.Promotion
    decider = promotions.PROMOTIONS

    async def write(self, conn: Conn, key: str, state: promotions.Promotion) -> None:
        await conn.execute(
            """INSERT INTO promotions AS t (id, name, status, compliance, major, owner, starts_at, ends_at,
                                           announce_by, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status,
                   compliance = EXCLUDED.compliance, major = EXCLUDED.major, owner = EXCLUDED.owner,
                   starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                   announce_by = EXCLUDED.announce_by, state = EXCLUDED.state, updated_at = now()""",
            key,
            state.name,
            state.status,
            state.compliance,
            state.major,
            state.owner,
            state.starts_at,
            state.ends_at,
            state.announce_by,
            as_json(state),
        )


WRITEUP_PREFIX = "writeup-"


class WriteUpsProjection(FoldingProjection[writeups.WriteUp]):
    """`writeups` (R-NEWS-3WD): one row per reported event, with when its write-up is due (and
    whether that time is a guess) and each platform's publication (in `state`)."""

    name = "writeups"
    table = "writeups"
    stream_prefix = WRITEUP_PREFIX
    event_prefix = "writeup."
    model = writeups.WriteUp
    decider = writeups.WRITEUPS

    async def write(self, conn: Conn, key: str, state: writeups.WriteUp) -> None:
        await conn.execute(
            """INSERT INTO writeups AS t (id, name, status, owner, ends_at, due, due_flagged, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status,
                   owner = EXCLUDED.owner, ends_at = EXCLUDED.ends_at, due = EXCLUDED.due,
                   due_flagged = EXCLUDED.due_flagged, state = EXCLUDED.state, updated_at = now()""",
            key,
            state.name,
            state.status,
            state.owner,
            state.ends_at,
            state.due,
            state.due_flagged,
            as_json(state),
        )
