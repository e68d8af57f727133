"""HTTP calls to platforms, with the one distinction that matters for at-most-once publishing.

A request that never left (connection refused, DNS, pool exhausted) can be retried safely.
A request that left and got no answer (read timeout, connection dropped mid-answer) may have been
carried out: that is `MaybeSent`, and a publish or a reply that raises it is never retried blindly.

This is also the one place that says where a request went (R-SECRETS). WeChat's and Weibo's
`access_token` ride in the query string, so an error names a request by its path only, never its
query or its host's credentials; and it never quotes a page the answer carried (a proxy's error
page may name the URL it refused, query and all). `who` names the platform for the person who
reads the error ("WeChat answered HTTP 413 to /cgi-bin/draft/add: ...").
"""

from datetime import timedelta
from http import HTTPStatus
from typing import Any

import httpx

from activities.platforms.base import MaybeSent, PlatformError

MEANINGS = {
    400: "the platform could not read the request",
    401: "the platform refused the account's credentials",
    403: "the call was forbidden (check the account's credentials, permissions and IP whitelist)",
    404: "no such API path (check the account's base_url)",
    413: "the post is too large (shorten it, or use fewer or smaller images)",
    414: "the request's address is too long",
    429: "too many calls (retrying later)",
}
"""What a person can do about an HTTP error, where the platform's front end says no more."""


def endpoint(url: httpx.URL | str) -> str:
    """What an error may say about a request's address: its path, without the query."""
    return httpx.URL(url).path


async def send(
    client: httpx.AsyncClient, method: str, url: str, *, who: str, **kwargs: Any
) -> httpx.Response:
    """`client.request`, with transport failures classified and 5xx answers raised (retryable)."""
    where = endpoint(url)
    try:
        response = await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise PlatformError(
            f"could not reach {who} for {where}: {type(exc).__name__}", retryable=True
        ) from None
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise MaybeSent(
            f"{method} {where}: {type(exc).__name__} after the request was sent to {who}"
        ) from None
    except httpx.HTTPError as exc:
        # Any other transport failure: its text may quote the request (a header, the URL), and
        # nothing proves the request did not leave.
        raise MaybeSent(
            f"{method} {where}: {type(exc).__name__}; the request may have reached {who}"
        ) from None
    if response.status_code >= 500:
        raise PlatformError(
            f"{who} answered HTTP {response.status_code} to {where}",
            code=str(response.status_code),
            retryable=True,
            in_doubt=True,  # a gateway's 502 or 504 may come after the platform did the work
        )
    return response


def refused(response: httpx.Response, who: str) -> PlatformError:
    """A 4xx answer as an error a person can act on: the path, the status and what it means.

    The platform's own explanation is added when the answer is JSON (WordPress's `message`, Weibo's
    `error`); an HTML page is never quoted. Only 429 is retried, after the time the platform asks.
    """
    status = response.status_code
    meaning = MEANINGS.get(status) or _phrase(status)
    explained = _explanation(response)
    message = f"{who} answered HTTP {status} to {endpoint(response.request.url)}: {meaning}"
    if explained:
        message += f" ({explained})"
    if status == 429:
        wait = response.headers.get("retry-after", "60")
        retry_after = timedelta(seconds=float(wait)) if wait.isdigit() else timedelta(seconds=60)
        return PlatformError(message, code="429", retryable=True, retry_after=retry_after)
    return PlatformError(message, code=str(status), retryable=False)


def json_body(response: httpx.Response, who: str) -> dict[str, Any]:
    """The answer's JSON object; a page instead of JSON is refused (4xx) or retried (a 2xx or 3xx
    page, e.g. a captive portal in front of the platform)."""
    try:
        body = response.json()
    except ValueError:
        if 400 <= response.status_code < 500:
            raise refused(response, who) from None
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        raise PlatformError(
            f"{who} answered HTTP {response.status_code} to {endpoint(response.request.url)} "
            f"with {kind}, not JSON",
            code="not_json",
            retryable=True,
            in_doubt=True,
        ) from None
    if not isinstance(body, dict):
        raise PlatformError(
            f"{who} answered {endpoint(response.request.url)} with an unexpected JSON shape",
            retryable=False,
            in_doubt=True,
        )
    return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "an unknown HTTP status"


def _explanation(response: httpx.Response) -> str:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    said = body.get("message") or body.get("error") or body.get("errmsg")
    return str(said)[:200] if said else ""
