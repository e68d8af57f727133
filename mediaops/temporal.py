"""How every process talks to Temporal: one data converter with the payload codec, one way to connect.

The API, the workers, the CLI and the replayer all build their converter here, so payloads are
always pydantic JSON sealed by the same codec (mediaops/codec.py), failures' messages and stack
traces included, and nothing in a history depends on which process wrote it.
"""

import asyncio
import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from mediaops.codec import EncryptionCodec
from mediaops.keys import Keys
from mediaops.settings import Settings, SettingsError


def data_converter(keys: Keys) -> DataConverter:
    """Pydantic JSON, then AES-GCM with the current codec key; failures' text is sealed too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys.codec),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _read(path: Path | None, variable: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{variable}: {path} cannot be read ({exc.strerror})") from None


def tls_config(settings: Settings) -> TLSConfig | None:
    """How to reach Temporal over TLS (mTLS with a client certificate, or server TLS for an API key);
    None for plain gRPC, which only the embedded dev server and test servers speak."""
    if not settings.temporal_tls:
        return None
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca, "MEDIAOPS_TEMPORAL_TLS_CA"),
        domain=settings.temporal_tls_server_name,
        client_cert=_read(settings.temporal_tls_cert, "MEDIAOPS_TEMPORAL_TLS_CERT"),
        client_private_key=_read(settings.temporal_tls_key, "MEDIAOPS_TEMPORAL_TLS_KEY"),
    )


def client_certificate_expiry(settings: Settings) -> datetime | None:
    """When the mTLS client certificate expires (for the alert that comes weeks before it does)."""
    pem = _read(settings.temporal_tls_cert, "MEDIAOPS_TEMPORAL_TLS_CERT")
    if pem is None:
        return None
    try:
        return x509.load_pem_x509_certificate(pem).not_valid_after_utc
    except ValueError:
        raise SettingsError("MEDIAOPS_TEMPORAL_TLS_CERT: not a PEM certificate") from None


async def connect(settings: Settings, *, target: str | None = None) -> Client:
    api_key = settings.temporal_api_key
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.keys),
        tls=tls_config(settings) or False,
        api_key=api_key.get_secret_value() if api_key is not None else None,
    )


def dev_server_flags(keys: Iterable[SearchAttributeKey[Any]]) -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title().replace('_', '')}"]
    return flags


async def register_search_attributes(client: Client, keys: Iterable[SearchAttributeKey[Any]]) -> list[str]:
    """Add the search attributes that the namespace lacks; returns the names added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in keys
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


NAMESPACE_READY_S = 60.0
"""How long a new namespace may take to reach every frontend (a cluster's namespace cache refreshes
every few seconds) before the search attributes can be registered in it."""


async def ensure_namespace(client: Client, retention: timedelta) -> bool:
    """Create the client's namespace with `retention` when it does not exist; whether it was created."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
        return False
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    period = Duration()
    period.FromTimedelta(retention)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=client.namespace, workflow_execution_retention_period=period)
        )
    except RPCError as refused:
        if refused.status != RPCStatusCode.ALREADY_EXISTS:  # another init job got there first
            raise
    return True


async def init_namespace(
    settings: Settings, retention: timedelta, keys: Iterable[SearchAttributeKey[Any]]
) -> tuple[bool, list[str]]:
    """The namespace (created when missing) and its search attributes: what `mediaops temporal-init`
    does once per cluster, safe to run again and from several jobs at once.

    A cluster that is still starting (refusing connections, or unavailable) and a namespace not yet
    known to every frontend are waited for, up to NAMESPACE_READY_S: the job runs beside the
    server's own start, and a health check that sees the port open does not mean it serves.
    """
    deadline = asyncio.get_running_loop().time() + NAMESPACE_READY_S
    created: bool | None = None
    while True:
        try:
            client = await connect(settings)
            if created is None:
                created = await ensure_namespace(client, retention)
            return created, await register_search_attributes(client, keys)
        except (RPCError, RuntimeError) as exc:
            waiting = isinstance(exc, RuntimeError) or exc.status in (
                RPCStatusCode.NOT_FOUND,
                RPCStatusCode.UNAVAILABLE,
            )
            if not waiting or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)
