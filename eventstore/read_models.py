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

from domain import articles, cadence, department, inquiries, meetings, promotions, writeups
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


async def owed_inquiries(conn: Conn) -> dict[tuple[str, str], int]:
    """How many inquiries are still owed an answer, by (platform, status): open, at_risk, breached.

    One past its deadline counts as breached even before its workflow has recorded the breach: a
    stuck worker must not hide a broken R-INQUIRY-12H from the alert that watches for it.
    """
    rows = await conn.fetch(
        """SELECT platform, CASE WHEN deadline < now() THEN 'breached' ELSE status END AS owed,
                  count(*) AS n
             FROM inquiries WHERE status = ANY($1::text[]) GROUP BY 1, 2""",
        list(inquiries.STILL_OWED),
    )
    return {(r["platform"], r["owed"]): int(r["n"]) for r in rows}


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


CADENCE_PREFIX = "cadence-"


class CadenceProjection(FoldingProjection[cadence.CadencePeriod]):
    """`cadence_periods` (R-CADENCE-*, R-FIXED-MONTHLY): one row per subject and period, with its
    count, target, owner and verdict."""

    name = "cadence_periods"
    table = "cadence_periods"
    stream_prefix = CADENCE_PREFIX
    event_prefix = "cadence."
    model = cadence.CadencePeriod
    decider = cadence.CADENCE

    async def write(self, conn: Conn, key: str, state: cadence.CadencePeriod) -> None:
        subject = state.subject
        if subject is None or state.first_day is None or state.closes_at is None:
            return  # nothing opened it (never: `cadence.opened` is each stream's first event)
        await conn.execute(
            """INSERT INTO cadence_periods AS t (id, rule, subject, platform, kind, period, first_day, status,
                                                count, target, owner, closes_at, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, count = EXCLUDED.count,
                   owner = EXCLUDED.owner, state = EXCLUDED.state, updated_at = now()""",
            key,
            subject.rule.value,
            subject.key,
            subject.platform.value,
            subject.kind,
            state.period,
            state.first_day,
            state.status,
            state.count,
            subject.target,
            state.owner,
            state.closes_at,
            as_json(state),
        )


class EventProjection(ABC):
    """A read model whose rows each come from one event (no folding): `name` is its checkpoint,
    `tables` are emptied for a rebuild, and `project` applies one event of the types it takes."""

    name: str
    tables: tuple[str, ...]
    """Constants of the subclass, never input."""

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            await self.project(conn, event)

    @abstractmethod
    async def project(self, conn: Conn, event: RecordedEvent) -> None: ...

    async def reset(self, conn: Conn) -> None:
        await conn.execute(f"TRUNCATE {', '.join(self.tables)}")


class DepartmentProjection(EventProjection):
    """The register (domain/department.py): owner assignments, fixed columns, action items."""

    name = "department"
    tables = ("owner_assignments", "columns", "action_items")

    async def project(self, conn: Conn, event: RecordedEvent) -> None:
        if event.stream_id != department.REGISTER_ID or not event.type.startswith("department."):
            return
        e = REGISTRY.decode(event.type, event.schema_version, event.data)
        if isinstance(e, department.OwnerAssigned):
            await conn.execute(
                """INSERT INTO owner_assignments
                       (position, subject, "user", starts_on, assigned_by, assigned_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (position) DO NOTHING""",
                event.position, e.subject, e.user, e.starts_on, e.by, e.at,
            )  # fmt: skip
        elif isinstance(e, department.ColumnDeclared):
            await conn.execute(
                """INSERT INTO columns (id, name, platform, declared_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, platform = EXCLUDED.platform,
                       retired_at = NULL""",
                e.column.id, e.column.name, e.column.platform.value, e.at,
            )  # fmt: skip
        elif isinstance(e, department.ColumnRetired):
            await conn.execute("UPDATE columns SET retired_at = $2 WHERE id = $1", e.column_id, e.at)
        elif isinstance(e, department.ActionRecorded):
            await conn.execute(
                """INSERT INTO action_items
                       (id, report_id, text, owner, due, recorded_by, recorded_at, position)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING""",
                e.action_id, e.report_id, e.text, e.owner, e.due, e.by, e.at, event.position,
            )  # fmt: skip
        elif isinstance(e, department.ActionDone):
            await conn.execute(
                "UPDATE action_items SET done_at = $2, done_by = $3 WHERE id = $1", e.action_id, e.at, e.by
            )


class ApprovalsProjection(EventProjection):
    """`approvals` (R-KPI): each approval an article asked for, when, and how it was decided."""

    name = "approvals"
    tables = ("approvals",)

    async def project(self, conn: Conn, event: RecordedEvent) -> None:
        if not event.stream_id.startswith(ARTICLE_PREFIX) or not event.type.startswith("article."):
            return
        e = REGISTRY.decode(event.type, event.schema_version, event.data)
        key = event.stream_id.removeprefix(ARTICLE_PREFIX)
        if isinstance(e, articles.ReviewRequested):
            await conn.execute(
                """INSERT INTO approvals (article_id, version, role, requested_at, requested_position)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                key, e.version, e.role.value, event.recorded_at, event.position,
            )  # fmt: skip
        elif isinstance(e, articles.Approved):
            await self._decided(conn, key, e.version, e.actor, e.at, "approved", event.position, e.role.value)
        elif isinstance(e, articles.ChangesRequested | articles.Rejected):
            outcome = "changes_requested" if isinstance(e, articles.ChangesRequested) else "rejected"
            await self._decided(conn, key, e.version, e.actor, e.at, outcome, event.position, None)
        elif isinstance(e, articles.Escalated):
            await conn.execute(
                "UPDATE approvals SET escalated = true WHERE article_id = $1 AND version = $2 AND role = $3",
                key, e.version, e.role.value,
            )  # fmt: skip

    @staticmethod
    async def _decided(
        conn: Conn,
        key: str,
        version: int,
        actor: str,
        at: object,
        outcome: str,
        position: int,
        role: str | None,
    ) -> None:
        """The pending request of that version (of `role`, or whichever is pending) is decided."""
        await conn.execute(
            """UPDATE approvals SET decided_by = $3, decided_at = $4, outcome = $5, decided_position = $6
                WHERE article_id = $1 AND version = $2 AND decided_at IS NULL
                  AND ($7::text IS NULL OR role = $7)""",
            key, version, actor, at, outcome, position, role,
        )  # fmt: skip


class MeetingReportsProjection(EventProjection):
    """`meeting_reports` (R-WEEKLY, R-MONTHLY): each report made, whole, with its digest."""

    name = "meeting_reports"
    tables = ("meeting_reports",)

    async def project(self, conn: Conn, event: RecordedEvent) -> None:
        if event.type != "report.made":
            return
        e = REGISTRY.decode(event.type, event.schema_version, event.data)
        assert isinstance(e, meetings.ReportMade)  # noqa: S101 - by its type
        r = e.report
        await conn.execute(
            """INSERT INTO meeting_reports
                   (id, kind, period, as_of, partial, digest, stream_id, position, body)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING""",
            r.id, r.kind, r.period, r.as_of, r.partial, e.digest, event.stream_id, event.position,
            r.model_dump(mode="json"),
        )  # fmt: skip
