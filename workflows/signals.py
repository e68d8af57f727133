"""Messages that reach workflows from outside: names and payloads, shared with the API."""

from pydantic import BaseModel

from domain.outcomes import PublishOutcome
from domain.platforms import Platform

PUBLICATION_FINISHED = "publication_finished"
"""Sent to the workflow waiting on a publication when the platform reports its final outcome."""


LINKED_ARTICLE_MOVED = "linked_article_moved"
"""Sent by an article to the promotion or write-up it is linked to whenever it records something:
a bare wake-up (the article's id), never a fact; the obligation reads the facts from the event
store (activities/announcements.py), so a forged or repeated one changes nothing."""


class PublicationUpdate(BaseModel):
    platform: Platform
    account: str
    handle: str
    outcome: PublishOutcome
