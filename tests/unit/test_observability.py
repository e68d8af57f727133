"""The ops endpoint and the API's request metrics (mediaops/observability.py, api/metering.py)."""

import asyncio

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from api.metering import Metering
from deploy.processes import free_port
from mediaops.observability import INQUIRIES_OPEN, OpsServer


def requests_counted(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "mediaops_api_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


async def test_requests_are_counted_by_route_template_never_by_path() -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    inner = FastAPI()

    @inner.post("/decode")
    def decode() -> dict[str, str]:
        return {}

    app.mount("/codec", inner)
    app.add_middleware(Metering)
    before = requests_counted("GET", "/things/{thing_id}", "200")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client:
        for n in range(3):
            assert (await client.get(f"/things/{n}")).status_code == 200
        assert requests_counted("GET", "/things/{thing_id}", "200") == before + 3
        assert REGISTRY.get_sample_value("mediaops_api_requests_total", {"route": "/things/1"}) is None
        await client.post("/codec/decode")
        assert requests_counted("POST", "/codec/decode", "200") >= 1
        unmatched = requests_counted("GET", "unmatched", "404")
        await client.get("/made/up/path")
        assert requests_counted("GET", "unmatched", "404") == unmatched + 1


async def test_the_ops_endpoint_answers_probes_and_scrapes() -> None:
    down: list[str] = []
    refreshed = asyncio.Event()

    async def ready() -> list[str]:
        return down

    async def refresh() -> None:
        INQUIRIES_OPEN.labels("wechat").set(7)
        refreshed.set()

    port = free_port()
    server = await OpsServer(None, ready, refresh).serve(f"127.0.0.1:{port}")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            assert (await http.get("/readyz")).status_code == 200
            down.append("postgresql: OSError")
            unready = await http.get("/readyz")
            assert unready.status_code == 503
            assert unready.json() == {"status": "unavailable", "down": ["postgresql: OSError"]}
            scraped = await http.get("/metrics")
            assert refreshed.is_set()
            assert 'mediaops_inquiries_open{platform="wechat"} 7.0' in scraped.text
            assert (await http.get("/other")).status_code == 404
            assert (await http.post("/metrics")).status_code == 405
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failing_refresh_still_serves_the_other_metrics() -> None:
    async def ready() -> list[str]:
        return []

    async def refresh() -> None:
        raise OSError("database gone")

    port = free_port()
    server = await OpsServer(None, ready, refresh).serve(f"127.0.0.1:{port}")
    try:
        async with httpx.AsyncClient() as http:
            scraped = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert "python_gc_objects_collected_total" in scraped.text
    finally:
        server.close()
        await server.wait_closed()
