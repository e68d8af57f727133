"""HTTP calls to platforms, with the one distinction that matters for at-most-once publishing.

A request that never left (connection refused, DNS, pool exhausted) can be retried safely.
A request that left and got no answer (read timeout, connection dropped mid-answer) may have been
carried out: that is `MaybeSent`, and a publish or a reply that raises it is never retried blindly.
"""

from typing import Any

import httpx

from activities.platforms.base import MaybeSent, PlatformError


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise PlatformError(f"could not reach {url}: {type(exc).__name__}", retryable=True) from None
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise MaybeSent(f"{method} {url}: {type(exc).__name__} after the request was sent") from None
    if response.status_code >= 500:
        raise PlatformError(
            f"{url} answered HTTP {response.status_code}", code=str(response.status_code), retryable=True
        )
    return response


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PlatformError(
            f"{response.request.url} answered HTTP {response.status_code} without JSON", retryable=True
        ) from None
    if not isinstance(body, dict):
        raise PlatformError(f"{response.request.url} answered an unexpected JSON shape", retryable=False)
    return body
