"""Domain events: what happened, in the rulebook's terms, versioned for the long term.

The event store keeps events for ever, so an event written today must still load in ten years.
Each event type has a current `SCHEMA_VERSION`; an older stored payload is brought up to date on
read by a chain of upcasters (v1 -> v2 -> v3 ...), one per step, registered here. Each process's
decider module defines its events as subclasses of `DomainEvent` and registers them in `REGISTRY`;
its discriminated union is `Annotated[A | B | ..., Field(discriminator="type")]`.
"""

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.roles import Role
from domain.rules import RuleId

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]
E = TypeVar("E", bound="DomainEvent")


class EventMetadata(BaseModel):
    """Who and what caused an event: the answer an audit asks of every fact (R-ACCOUNTABLE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str | None = None
    role: Role | None = None
    channel: str | None = None
    """How the cause reached the process: `api` or `ops` (a person's signed command), else the system."""
    workflow_id: str | None = None
    run_id: str | None = None
    rule_ids: tuple[RuleId, ...] = ()
    policy: str | None = None
    """The digest of the policy the process runs under (the worker's, adopted at its start)."""
    causation_id: UUID | None = None
    correlation_id: str | None = None


class DomainEvent(BaseModel):
    """Base of every event. Subclasses set `type: Literal["..."] = "..."` and `SCHEMA_VERSION`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA_VERSION: ClassVar[int] = 1

    type: str

    def payload(self) -> JsonObject:
        """The stored body: everything but the type, which the store keeps in its own column."""
        return self.model_dump(mode="json", exclude={"type"})


class UnknownEventType(LookupError):
    pass


class UpcastError(ValueError):
    """A stored payload cannot be brought to the current schema: an upcaster is missing."""


class EventRegistry:
    """Event types by name, and the upcasters that carry old payloads forward."""

    def __init__(self) -> None:
        self._models: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[E]) -> type[E]:
        name = model.model_fields["type"].default
        if not isinstance(name, str):
            raise TypeError(f"{model.__name__} must give `type` a literal default")
        if name in self._models and self._models[name] is not model:
            raise ValueError(f"event type '{name}' is registered twice")
        self._models[name] = model
        return model

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the step that turns a `from_version` payload into `from_version + 1`."""

        def add(step: Upcaster) -> Upcaster:
            key = (type_name, from_version)
            if key in self._upcasters:
                raise ValueError(f"two upcasters for {type_name} v{from_version}")
            self._upcasters[key] = step
            return step

        return add

    def model(self, type_name: str) -> type[DomainEvent]:
        try:
            return self._models[type_name]
        except KeyError:
            raise UnknownEventType(f"no event type '{type_name}' is registered") from None

    def current_versions(self) -> dict[str, int]:
        """The schema version this code writes, per known type (for a fast check on bulk reads)."""
        return {name: model.SCHEMA_VERSION for name, model in self._models.items()}

    def upcast(self, type_name: str, version: int, data: JsonObject) -> JsonObject:
        current = self.model(type_name).SCHEMA_VERSION
        if version > current:
            raise UpcastError(f"{type_name} v{version} was written by newer code (this knows v{current})")
        while version < current:
            step = self._upcasters.get((type_name, version))
            if step is None:
                raise UpcastError(f"no upcaster from {type_name} v{version} to v{version + 1}")
            data = step(dict(data))
            version += 1
        return data

    def decode(self, type_name: str, version: int, data: JsonObject) -> DomainEvent:
        """The event as the current code knows it, whatever schema version it was stored in."""
        model = self.model(type_name)
        return model.model_validate({**self.upcast(type_name, version, data), "type": type_name})


REGISTRY = EventRegistry()
"""The registry every process's events join; the store and audits decode through it."""
