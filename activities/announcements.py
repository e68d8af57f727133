"""What an obligation's linked articles have done, read from the record of truth.

A promotion (R-PROMO-3D) or a major event's write-up (R-NEWS-3WD) is kept when its linked article
is published on every required platform in time. The obligation's workflow does not take an
article's word for it in a signal: a signal only wakes it, and it asks this activity, which finds
the articles linked to it in the event store (the link is on each `article.submitted` event, so an
article submitted before the obligation existed is found too) and folds each one's events with the
article decider. What it answers is the same however often it is asked, so a wake-up that comes
twice, late, or never (the next reminder or verdict reads again) changes nothing: each fact is
decided once by the obligation's decider, which ignores what it already has.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import activity

from domain import articles
from domain.announcements import LINKED_AT_MOST, Seen, stage_of
from domain.events import REGISTRY
from domain.platforms import Platform
from eventstore.store import EventStore

_LINKED = {
    link: f"""SELECT stream_id FROM events
               WHERE type = 'article.submitted' AND data->>'{link}' = $1
               ORDER BY position LIMIT $2"""  # noqa: S608 - one of two literal names, for the 0014 index
    for link in ("promotion_id", "writeup_id")
}


class LinkedRequest(BaseModel):
    link: Literal["promotion_id", "writeup_id"]
    key: str = Field(min_length=1, max_length=64)


class Announcements:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="announcements.linked")
    async def linked(self, request: LinkedRequest) -> list[Seen]:
        """The articles linked to the obligation, each folded from its events."""
        streams = [
            r["stream_id"]
            for r in await self.store.pool.fetch(_LINKED[request.link], request.key, LINKED_AT_MOST)
        ]
        return [await self._read(stream) for stream in streams]

    async def _read(self, stream_id: str) -> Seen:
        state = articles.initial_state()
        published: dict[Platform, datetime] = {}
        for recorded in await self.store.read_stream(stream_id):
            if not recorded.type.startswith("article."):
                continue  # a process's own records (a refusal, a flag) are not the article's
            event = REGISTRY.decode(recorded.type, recorded.schema_version, recorded.data)
            state = articles.evolve(state, event)
            if isinstance(event, articles.PublicationRecorded) and event.outcome.state == "published":
                # the workflow's time of the outcome; an event from before it was kept: the store's
                published.setdefault(event.platform, event.at or recorded.recorded_at)
        platforms = state.content.platforms if state.content else ()
        return Seen(
            article_id=state.id,
            platforms=platforms,
            stage=stage_of(state),
            published={p: at for p, at in published.items() if p in platforms},
        )
