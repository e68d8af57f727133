"""The append activity: deterministic event ids make a retried activity append nothing twice."""

import dataclasses
import uuid

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.eventstore import AppendRequest, EventDraft, EventStoreActivities, event_id
from domain.events import DomainEvent, EventMetadata, EventRegistry
from domain.roles import Role
from domain.rules import RuleId
from eventstore.store import NO_STREAM, EventStore, NewEvent
from tests.unit.test_events import registry_with_v3


def activity_env(workflow_id: str, run_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=workflow_id, workflow_run_id=run_id)
    return env


async def test_a_retried_append_activity_records_once(store: EventStore) -> None:
    activities = EventStoreActivities(store)
    stream = f"article-{uuid.uuid4().hex[:8]}"
    request = AppendRequest(
        stream_id=stream,
        expected_version=NO_STREAM,
        first_sequence=0,
        events=[EventDraft(type="article.submitted", data={"title": "t"}), EventDraft(type="x.y", data={})],
        metadata=EventMetadata(
            actor="demo.content_specialist", role=Role.CONTENT_SPECIALIST, rule_ids=(RuleId.REVIEW_ALL,)
        ),
    )
    env = activity_env(stream, "run-1")
    first = await env.run(activities.append, request)
    again = await env.run(activities.append, request)  # the worker died before Temporal heard back
    assert again == first
    assert first.last_version == 2
    recorded = await store.read_stream(stream)
    assert [e.event_id for e in recorded] == [event_id(stream, "run-1", 0), event_id(stream, "run-1", 1)]
    assert recorded[0].metadata == {
        "actor": "demo.content_specialist",
        "role": "content_specialist",
        "rule_ids": ["R-REVIEW-ALL"],
        "workflow_id": stream,
        "run_id": "run-1",
    }


async def test_a_stale_version_is_a_non_retryable_failure(store: EventStore) -> None:
    activities = EventStoreActivities(store)
    stream = f"article-{uuid.uuid4().hex[:8]}"
    await store.append(stream, NO_STREAM, [NewEvent(uuid.uuid4(), "other.writer", {})])
    request = AppendRequest(
        stream_id=stream,
        expected_version=NO_STREAM,
        first_sequence=0,
        events=[EventDraft(type="article.submitted", data={})],
        metadata=EventMetadata(),
    )
    with pytest.raises(ApplicationError) as caught:
        await activity_env(stream, "run-1").run(activities.append, request)
    assert caught.value.type == "WrongExpectedVersion"
    assert caught.value.non_retryable


async def test_stored_v1_payloads_load_as_v3_from_the_store(store: EventStore) -> None:
    """read_stream and read_all upcast on read; the stored row keeps its original version."""
    stream = f"inquiry-{uuid.uuid4().hex[:8]}"
    await store.append(
        stream, NO_STREAM, [NewEvent(uuid.uuid4(), "inquiry.noted", {"text": "投诉"}, schema_version=1)]
    )
    registry: EventRegistry = registry_with_v3()
    [recorded] = await store.read_stream(stream)
    event: DomainEvent = registry.decode(recorded.type, recorded.schema_version, recorded.data)
    assert event.model_dump() == {
        "type": "inquiry.noted",
        "body": "投诉",
        "channel": "unknown",
        "urgent": True,
    }
