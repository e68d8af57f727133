"""A process's rules as one value: its initial state, `decide` and `evolve`, travelling together.

The workflow shell (workflows/shell.py), the read models and the audits all take a `Decider`, so
the same three pure functions rebuild a process wherever its events are read.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from domain.events import DomainEvent
from domain.policy import Policy

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class Decider(Generic[S]):
    initial: Callable[[], S]
    decide: Callable[[BaseModel, S, Policy], list[DomainEvent]]
    """The events a command causes, or a DomainError naming the rule that refuses it."""
    evolve: Callable[[S, DomainEvent], S]
