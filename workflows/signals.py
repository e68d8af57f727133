"""Messages that reach workflows from outside: names and payloads, shared with the API."""

from pydantic import BaseModel

from domain.outcomes import PublishOutcome
from domain.platforms import Platform

PUBLICATION_FINISHED = "publication_finished"
"""Sent to the workflow waiting on a publication when the platform reports its final outcome."""


class PublicationUpdate(BaseModel):
    platform: Platform
    account: str
    handle: str
    outcome: PublishOutcome
