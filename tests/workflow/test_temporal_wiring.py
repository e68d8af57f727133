"""The wiring every process shares: search attributes on an external server, ids in the logs."""

import importlib.util
import inspect
import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.policy import Policy
from eventstore.store import EventStore
from mediaops.logging import configure_logging
from mediaops.settings import Settings
from mediaops.temporal import register_search_attributes
from tests.identity_support import DATA_CONVERTER
from tests.workflow.test_calendar_activity import AskDueTimes, worker_for
from workers.worker import WORKFLOWS, cache_workflow_bytecode
from workflows import search_attributes


async def test_search_attributes_are_added_once_to_a_namespace_that_lacks_them(
    temporal_dev: WorkflowEnvironment,
) -> None:
    """What `mediaops up` does against an external Temporal (TEMPORAL_ADDRESS)."""
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    await temporal_dev.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    target = temporal_dev.client.service_client.config.target_host
    client = await Client.connect(target, namespace=namespace, data_converter=DATA_CONVERTER)
    added = await register_search_attributes(client, search_attributes.ALL)
    assert added == sorted(key.name for key in search_attributes.ALL)
    assert await register_search_attributes(client, search_attributes.ALL) == []


async def test_activity_log_lines_carry_the_workflow_and_activity_ids(
    temporal_skipping: WorkflowEnvironment, store: EventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(Settings(log_format="json"))
    try:
        queue = f"calendar-{uuid.uuid4()}"
        workflow_id = f"due-{uuid.uuid4()}"
        async with worker_for(temporal_skipping, queue, Policy(), store):
            await temporal_skipping.client.execute_workflow(
                AskDueTimes.run, datetime(2031, 3, 6, 4, 0, tzinfo=UTC), id=workflow_id, task_queue=queue
            )
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    guessed = [
        line for line in lines if line.get("event") == "due time guessed with a Monday-to-Friday calendar"
    ]
    assert guessed, lines
    assert guessed[0]["workflow_id"] == workflow_id
    assert guessed[0]["activity_type"] == "calendar.working_days_deadline"
    assert guessed[0]["rule"] == "R-NEWS-3WD"


def test_workflow_modules_are_compiled_once_for_the_sandbox() -> None:
    """The sandbox imports them per run: a cached bytecode file spares compiling the source each time."""
    cache_workflow_bytecode()
    for workflow_class in WORKFLOWS:
        source = inspect.getsourcefile(workflow_class)
        assert source is not None
        cached = Path(importlib.util.cache_from_source(source))
        assert cached.exists()
        assert cached.stat().st_mtime >= Path(source).stat().st_mtime
