"""Read models kept by projections; each folds events with the same `evolve` the workflows use."""

import json
from collections.abc import Sequence

from domain import articles, inquiries
from domain.events import REGISTRY
from eventstore.db import Conn
from eventstore.store import RecordedEvent

ARTICLE_PREFIX = "article-"


class ArticlesProjection:
    """`articles`: one row per article with its status, who it waits on, and its publications."""

    name = "articles"

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        touched: dict[str, articles.Article] = {}
        for event in events:
            if not event.stream_id.startswith(ARTICLE_PREFIX) or not event.type.startswith("article."):
                continue
            article_id = event.stream_id.removeprefix(ARTICLE_PREFIX)
            if article_id not in touched:
                stored = await conn.fetchval("SELECT state FROM articles WHERE id = $1", article_id)
                touched[article_id] = (
                    articles.Article.model_validate(stored)
                    if stored is not None
                    else articles.initial_state()
                )
            domain_event = REGISTRY.decode(event.type, event.schema_version, event.data)
            touched[article_id] = articles.evolve(touched[article_id], domain_event)
        for article_id, state in touched.items():
            content = state.content
            await conn.execute(
                """INSERT INTO articles AS t
                       (id, status, version, waiting_on_role, author, title, platforms, state)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version,
                       waiting_on_role = EXCLUDED.waiting_on_role, title = EXCLUDED.title,
                       platforms = EXCLUDED.platforms, state = EXCLUDED.state, updated_at = now()""",
                article_id,
                state.status.value,
                state.version,
                state.waiting_on.value if state.waiting_on else None,
                state.author,
                content.title if content else "",
                [p.value for p in content.platforms] if content else [],
                json.loads(state.model_dump_json()),
            )

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE articles")


INQUIRY_PREFIX = "inquiry-"


class InquiriesProjection:
    """`inquiries`: the consultation record, one row per inquiry, with its SLA outcome."""

    name = "inquiries"

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        touched: dict[str, inquiries.Inquiry] = {}
        for event in events:
            if not event.stream_id.startswith(INQUIRY_PREFIX) or not event.type.startswith("inquiry."):
                continue
            key = event.stream_id
            if key not in touched:
                stored = await conn.fetchval("SELECT state FROM inquiries WHERE id = $1", key)
                touched[key] = (
                    inquiries.Inquiry.model_validate(stored)
                    if stored is not None
                    else inquiries.initial_inquiry()
                )
            touched[key] = inquiries.evolve_inquiry(
                touched[key], REGISTRY.decode(event.type, event.schema_version, event.data)
            )
        for key, state in touched.items():
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
                json.loads(state.model_dump_json()),
                state.kind,
                state.reopened,
            )

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE inquiries")
