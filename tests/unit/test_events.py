"""Guarantee 8: stored payloads of old schema versions load as the current version."""

from typing import Literal

import pytest

from domain.events import DomainEvent, EventRegistry, UnknownEventType, UpcastError


def registry_with_v3() -> EventRegistry:
    """`inquiry.noted` went v1 {text} -> v2 {text, channel} -> v3 {body, channel, urgent}."""
    registry = EventRegistry()

    @registry.register
    class Noted(DomainEvent):
        SCHEMA_VERSION = 3
        type: Literal["inquiry.noted"] = "inquiry.noted"
        body: str
        channel: str
        urgent: bool

    @registry.upcaster("inquiry.noted", 1)
    def add_channel(data: dict[str, object]) -> dict[str, object]:
        return {**data, "channel": "unknown"}

    @registry.upcaster("inquiry.noted", 2)
    def rename_and_flag(data: dict[str, object]) -> dict[str, object]:
        text = str(data.pop("text"))
        return {**data, "body": text, "urgent": "投诉" in text}

    return registry


def test_v1_loads_as_v3() -> None:
    event = registry_with_v3().decode("inquiry.noted", 1, {"text": "产品质量投诉"})
    assert event.model_dump() == {
        "type": "inquiry.noted",
        "body": "产品质量投诉",
        "channel": "unknown",
        "urgent": True,
    }


def test_v2_and_v3_load_too() -> None:
    registry = registry_with_v3()
    v2 = registry.decode("inquiry.noted", 2, {"text": "hello", "channel": "wechat"})
    assert v2.model_dump()["channel"] == "wechat"
    v3 = registry.decode("inquiry.noted", 3, {"body": "hi", "channel": "weibo", "urgent": False})
    assert v3.model_dump()["body"] == "hi"


def test_a_missing_step_is_named() -> None:
    registry = EventRegistry()

    @registry.register
    class Later(DomainEvent):
        SCHEMA_VERSION = 2
        type: Literal["later"] = "later"

    with pytest.raises(UpcastError, match="no upcaster from later v1 to v2"):
        registry.decode("later", 1, {})


def test_newer_than_the_code_and_unknown_types_are_refused() -> None:
    registry = registry_with_v3()
    with pytest.raises(UpcastError, match="newer code"):
        registry.decode("inquiry.noted", 4, {})
    with pytest.raises(UnknownEventType):
        registry.decode("nope", 1, {})


def test_payload_leaves_the_type_to_the_store() -> None:
    registry = registry_with_v3()
    event = registry.decode("inquiry.noted", 3, {"body": "b", "channel": "c", "urgent": False})
    assert event.payload() == {"body": "b", "channel": "c", "urgent": False}
