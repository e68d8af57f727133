"""How every process talks to Temporal: one data converter with the payload codec, one way to connect.

The API, the workers, the CLI and the replayer all build their converter here, so payloads are
always pydantic JSON sealed by the same codec (mediaops/codec.py), failures' messages and stack
traces included, and nothing in a history depends on which process wrote it.
"""

import dataclasses
from collections.abc import Iterable
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from mediaops.codec import EncryptionCodec
from mediaops.keys import Keys
from mediaops.settings import Settings


def data_converter(keys: Keys) -> DataConverter:
    """Pydantic JSON, then AES-GCM with the current codec key; failures' text is sealed too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys.codec),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, target: str | None = None) -> Client:
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.keys),
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
