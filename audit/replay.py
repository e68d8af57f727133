"""Replay: do the histories of real runs still replay against this release's workflow code?

A workflow is only as durable as its code's determinism: a change that is not behind
`workflow.patched` breaks every run it meets, and a run closed long ago is the record an audit
rebuilds. So any history, from Temporal while it holds it or from the archive (audit/archive.py)
after, can be replayed with the workers' own workflows and data converter, and each run is named
OK or with the event where the code took another path. Nothing runs for real: a replay calls no
activity and writes nothing.
"""

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from audit import archive
from workers.worker import WORKFLOWS


@dataclass(frozen=True)
class Replayed:
    """One run's replay. A failure says whether it is nondeterminism (the code took another path than
    the history) and, when the SDK names it, the history event where that showed."""

    workflow_id: str
    run_id: str
    ok: bool
    nondeterministic: bool = False
    event_id: int | None = None
    error: str | None = None


_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)|event_id: (\d+)")
"""How the SDK's core writes an event in its messages (Display, then Debug)."""
_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
"""The failure's own message inside the core's `Failure { ... }` dump."""


def _unescaped(escape: re.Match[str]) -> str:
    """A character of Rust's debug spelling of a string; line breaks become spaces (one line each)."""
    char = escape.group(1)
    return " " if char in "nrt" else char


def _failed(history: WorkflowHistory, failure: Exception) -> Replayed:
    text = str(failure)
    inner = _CORE_MESSAGE.search(text)
    message = re.sub(r"\\(.)", _unescaped, inner.group(1)) if inner else text
    found = _EVENT_ID.search(text)
    return Replayed(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        ok=False,
        nondeterministic=isinstance(failure, NondeterminismError),
        event_id=int(found.group(1) or found.group(2)) if found else None,
        error=" ".join(message.split()),
    )


async def _each(
    histories: Iterable[WorkflowHistory] | AsyncIterable[WorkflowHistory],
) -> AsyncIterator[WorkflowHistory]:
    if isinstance(histories, AsyncIterable):
        async for history in histories:
            yield history
    else:
        for history in histories:
            yield history


async def replay(
    histories: Iterable[WorkflowHistory] | AsyncIterable[WorkflowHistory],
    *,
    converter: DataConverter,
    workflows: Sequence[type] | None = None,
) -> list[Replayed]:
    """Replay each history against `workflows` (the workers' WORKFLOWS), decoding with `converter`
    (the one built from the keys that sealed the payloads); one result per history, in order.

    Every history is replayed even when one fails. The results come from the iterator that
    `replay_workflows(..., raise_on_replay_failure=False)` wraps, each with the very history it is
    for: `replay_workflows` itself keys failures by the started event's run id, which a reset run
    shares with the run it was reset from (that run id is also the one reported here).
    """
    replayer = Replayer(
        workflows=list(WORKFLOWS if workflows is None else workflows), data_converter=converter
    )
    results = []
    async with replayer.workflow_replay_iterator(_each(histories)) as replayed:
        async for result in replayed:
            history = result.history
            if result.replay_failure is None:
                results.append(Replayed(workflow_id=history.workflow_id, run_id=history.run_id, ok=True))
            else:
                results.append(_failed(history, result.replay_failure))
    return results


def _quoted(value: str) -> str:
    """A string literal of Temporal's visibility queries."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def _listed(client: Client, query: str) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    """Each run Temporal lists for a visibility query, with its history (an open run's so far).

    A run deleted between the listing and the fetch (its retention ran out) is passed over: Temporal
    no longer has it, the archive does.
    """
    async for execution in client.list_workflows(query):
        try:
            history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        yield execution.run_id, history


async def histories_matching(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    """The history of every run Temporal lists for a visibility query."""
    async for _, history in _listed(client, query):
        yield history


async def histories_of(client: Client, pool: archive.Reader, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of one workflow: those Temporal still holds, then the archived ones it no longer does."""
    found: dict[str, WorkflowHistory] = {}
    async for run_id, history in _listed(client, f"WorkflowId = {_quoted(workflow_id)}"):
        found[run_id] = history
    for archived in await archive.runs(pool, workflow_id):
        found.setdefault(archived.run_id, archived.history)
    return list(found.values())


async def histories_archived(
    pool: archive.Reader, start: datetime | None = None, end: datetime | None = None
) -> AsyncIterator[WorkflowHistory]:
    """The archived histories of the runs that closed in [start, end), oldest first."""
    async for archived in archive.between(pool, start, end):
        yield archived.history
