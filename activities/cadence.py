"""What a cadence period reads from the record: its subjects, its owner, its posts, whether it is owed.

A cadence process (workflows/cadence.py) counts posts *published* in its period on its platform
(and section, or column). It does not take anyone's word for a post: it reads the articles'
`article.publication_recorded` events, with the workflow's time of each, and the category and
column of the version that went out. Who owns the subject comes from the department's register
(domain/department.py), folded from its stream, as it stood on the day asked.
"""

from datetime import date, datetime

from pydantic import BaseModel
from temporalio import activity

from domain import articles
from domain.cadence import Post, Subject, subjects
from domain.calendar import calendar_for
from domain.department import DEPARTMENT, REGISTER_ID, Register
from domain.events import REGISTRY
from domain.platforms import Platform
from domain.policy import Policy
from eventstore.store import EventStore

_PUBLISHED = """SELECT stream_id, data FROM events
                 WHERE type = 'article.publication_recorded' AND data->'outcome'->>'state' = 'published'
                   AND data->>'platform' = $1"""
"""Publications on one platform (the 0017 index): their times are in the bodies, so they are read
and filtered here (the ISO text of a time does not sort as the time does)."""
_CONTENT = """SELECT stream_id, data FROM events
               WHERE stream_id = ANY($1::text[]) AND type IN ('article.submitted', 'article.revised')"""


async def register_at(store: EventStore, until: datetime | None = None) -> Register:
    """The department's register folded from its stream (what was recorded before `until`, if given)."""
    state = DEPARTMENT.initial()
    for recorded in await store.read_stream(REGISTER_ID):
        if until is not None and recorded.recorded_at >= until:
            break
        if recorded.type.startswith("department."):
            state = DEPARTMENT.evolve(
                state, REGISTRY.decode(recorded.type, recorded.schema_version, recorded.data)
            )
    return state


class OwnerRequest(BaseModel):
    subject: str
    day: date


class OwnerAnswer(BaseModel):
    user: str | None


class PostsRequest(BaseModel):
    platform: Platform
    starts_at: datetime
    ends_at: datetime


class OwedRequest(BaseModel):
    subject: Subject
    day: date


class CadenceReads:
    def __init__(self, store: EventStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    @activity.defn(name="cadence.subjects")
    async def subjects(self) -> list[Subject]:
        """Every subject the worker's policy and the declared fixed columns make."""
        register = await register_at(self.store)
        return subjects(self.policy, register.active_columns())

    @activity.defn(name="cadence.owner")
    async def owner(self, request: OwnerRequest) -> OwnerAnswer:
        """Who owned the subject on the day (R-KPI counts the period against them)."""
        register = await register_at(self.store)
        return OwnerAnswer(user=register.owner_on(request.subject, request.day))

    @activity.defn(name="cadence.owed")
    async def owed(self, request: OwedRequest) -> bool:
        """Whether the day owes a post: every day, or only working days (China's calendar) by policy."""
        if request.subject.kind != "day" or request.subject.days == "every_day":
            return True
        return calendar_for(self.policy).is_working_day(request.day)

    @activity.defn(name="cadence.posts")
    async def posts(self, request: PostsRequest) -> list[Post]:
        """The posts published on the platform in `[starts_at, ends_at)`, each article once, with the
        category and column of the version that went out."""
        found: dict[str, tuple[int, datetime]] = {}
        rows = await self.store.pool.fetch(_PUBLISHED, request.platform.value)
        for row in rows:
            event = REGISTRY.decode("article.publication_recorded", 1, row["data"])
            assert isinstance(event, articles.PublicationRecorded)  # noqa: S101 - by its type
            if event.at is None or not request.starts_at <= event.at < request.ends_at:
                continue  # an outcome from before its time was kept is not counted by time
            article_id = row["stream_id"].removeprefix("article-")
            if article_id not in found or event.at < found[article_id][1]:
                found[article_id] = (event.version, event.at)
        return await self._described(request.platform, found)

    async def _described(self, platform: Platform, found: dict[str, tuple[int, datetime]]) -> list[Post]:
        streams = [f"article-{a}" for a in found]
        categories: dict[tuple[str, int], str] = {}
        columns: dict[str, str | None] = {}
        for row in await self.store.pool.fetch(_CONTENT, streams):
            data, article_id = row["data"], row["stream_id"].removeprefix("article-")
            categories[(article_id, int(data["version"]))] = str(data["content"]["category"])
            if "author" in data:  # the submission: the column link is on it
                columns[article_id] = data.get("column_id")
        return [
            Post(
                article_id=a,
                platform=platform,
                at=at,
                category=categories.get((a, version), ""),
                column=columns.get(a),
            )
            for a, (version, at) in sorted(found.items(), key=lambda x: (x[1][1], x[0]))
        ]
