"""`mediaops temporal-init`: the one-shot job that prepares a cluster's namespace for the workers."""

import asyncio
import os
import subprocess
import sys
import uuid

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from mediaops.keys import Keys
from workflows import search_attributes

pytestmark = pytest.mark.temporal


def init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "temporal-init"], env=env, capture_output=True, text=True, timeout=120
    )


async def test_it_creates_the_namespace_and_its_search_attributes_once(
    temporal_dev: WorkflowEnvironment,
) -> None:
    keys = Keys.generate()
    namespace = f"mediaops-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAOPS_")}
    env.update(
        TEMPORAL_ADDRESS=temporal_dev.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE=namespace,
        MEDIAOPS_CODEC_KEYS=",".join(keys.codec.spelled()),
        MEDIAOPS_COMMAND_KEYS=",".join(keys.commands.spelled()),
    )
    first = await asyncio.to_thread(init, env)
    assert first.returncode == 0, first.stderr
    assert f"namespace {namespace}: created" in first.stdout
    client = temporal_dev.client
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToSeconds() > 0
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {key.name for key in search_attributes.ALL} <= set(listed.custom_attributes)
    again = await asyncio.to_thread(init, env)
    assert again.returncode == 0, again.stderr
    assert f"namespace {namespace}: exists; search attributes added: none" in again.stdout
