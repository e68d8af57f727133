"""A process that cannot go on says so: the step that keeps failing, and when it went on again.

A workflow never retries a failing step in silence nor fails its run over a dependency's outage:
the step is recorded here (with the failure's type, never its text, which may quote a request),
the process is flagged `NeedsAttention` for ops, a person is told, and the step is tried again.
These are the shell's events: every process's stream may hold them, and every decider ignores them.
"""

from typing import Literal

from pydantic import Field

from domain.durations import Instant
from domain.events import REGISTRY, DomainEvent
from domain.rules import RuleId


@REGISTRY.register
class NeedsAttention(DomainEvent):
    type: Literal["process.needs_attention"] = "process.needs_attention"
    step: str = Field(description="what the process could not do, e.g. 'calendar' or 'checks'")
    failure: str = Field(description="the failure's type (e.g. CalendarYearUnknown), not its message")
    rule: RuleId
    at: Instant


@REGISTRY.register
class Resumed(DomainEvent):
    type: Literal["process.resumed"] = "process.resumed"
    step: str
    at: Instant
