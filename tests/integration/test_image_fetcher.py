"""The guarded image fetcher over real HTTP, against a tiny server that counts what it is asked for
and what it sends (security review H4): refused hosts are never requested, each redirect is
checked, bodies are capped while streaming, and failures tell the author nothing internal."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from activities.platforms.base import PlatformError
from activities.platforms.images import JPEG, PNG, ImageFetcher, ImageHosts
from deploy.fakes.shared import TINY_JPEG
from tests.http_support import Answer, TinyServer, jpeg, redirect

CAP = 100_000
EXPECTED = "a JPEG or PNG of at most 0.1 MB"


@pytest.fixture
async def inside() -> AsyncIterator[TinyServer]:
    """An internal service, on no allowlist."""
    async with TinyServer(
        {"/healthz": Answer(headers={"Content-Type": "image/png"}, body=b"ok")}
    ).running() as s:
        yield s


@pytest.fixture
async def cdn(inside: TinyServer) -> AsyncIterator[TinyServer]:
    """The listed image host; some of its paths redirect, some answer badly."""
    answers = {
        "/photo.jpg": jpeg(),
        "/moved.jpg": redirect("/photo.jpg", 301),
        "/inside": redirect(f"{inside.base}/healthz"),
        "/inside-by-name": redirect(f"http://localhost:{inside.port}/healthz", 307),
        "/no-scheme": redirect(f"//127.0.0.1:{inside.port}/healthz"),
        "/mail": redirect("mailto:someone@example.com"),
        "/garbled": redirect("http://cdn.example.com:port/a.jpg"),
        "/loop": redirect("/loop"),
        "/page": Answer(headers={"Content-Type": "text/html"}, body=b"<h1>admin</h1>"),
        "/fake.png": Answer(headers={"Content-Type": "image/png"}, body=b"<svg>not a png</svg>"),
        "/missing.jpg": Answer(status=404, body=b"no"),
        "/busy.jpg": Answer(status=503, body=b"later"),
        "/declared-huge.jpg": jpeg(then_bytes=50_000_000),
        "/endless.jpg": jpeg(then_bytes=50_000_000, declare_length=False),
        "/slow.jpg": jpeg(then_bytes=100, piece=1, drip_s=0.05),
    }
    async with TinyServer(answers).running() as s:
        yield s


def fetcher(*hosts: str, deadline_s: float = 3.0) -> ImageFetcher:
    return ImageFetcher(ImageHosts.of(hosts), (JPEG, PNG), max_bytes=CAP, deadline_s=deadline_s)


async def refusal(fetch: ImageFetcher, src: str) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        await fetch.fetch(src)
    return caught.value


async def test_an_internal_host_is_never_requested(inside: TinyServer) -> None:
    for src in (f"{inside.base}/healthz", f"http://localhost:{inside.port}/healthz?x=1"):
        refused = await refusal(fetcher(), src)
        assert (
            refused.message
            == f"the image at {src.split('?')[0].split('//')[1]} could not be fetched as {EXPECTED}"
        )
        assert not refused.retryable
    assert inside.requests == []


async def test_a_listed_host_is_fetched_and_asked_by_its_own_name(cdn: TinyServer) -> None:
    image = await fetcher(cdn.netloc).fetch(f"{cdn.base}/photo.jpg")
    assert image.data == TINY_JPEG
    assert image.upload() == ("image.jpg", TINY_JPEG, "image/jpeg")
    by_name = await fetcher(f"localhost:{cdn.port}").fetch(f"http://localhost:{cdn.port}/photo.jpg")
    assert by_name.data == TINY_JPEG
    assert [r.host for r in cdn.requests] == [cdn.netloc, f"localhost:{cdn.port}"]


async def test_a_redirect_on_the_listed_host_is_followed(cdn: TinyServer) -> None:
    assert (await fetcher(cdn.netloc).fetch(f"{cdn.base}/moved.jpg")).data == TINY_JPEG
    assert [r.path for r in cdn.requests] == ["/moved.jpg", "/photo.jpg"]


@pytest.mark.parametrize("path", ["/inside", "/inside-by-name", "/no-scheme", "/mail", "/garbled"])
async def test_a_redirect_to_an_internal_host_or_nowhere_is_refused(
    cdn: TinyServer, inside: TinyServer, path: str
) -> None:
    refused = await refusal(fetcher(cdn.netloc), f"{cdn.base}{path}")
    assert refused.message == f"the image at {cdn.netloc}{path} could not be fetched as {EXPECTED}"
    assert not refused.retryable
    assert inside.requests == []
    assert [r.path for r in cdn.requests] == [path]


async def test_redirects_are_bounded(cdn: TinyServer) -> None:
    await refusal(fetcher(cdn.netloc), f"{cdn.base}/loop")
    assert len(cdn.requests) == 4  # the request and three redirects


@pytest.mark.parametrize(
    ("path", "retryable"),
    [("/page", False), ("/fake.png", False), ("/missing.jpg", False), ("/busy.jpg", True)],
)
async def test_what_went_wrong_stays_in_the_worker(cdn: TinyServer, path: str, retryable: bool) -> None:
    refused = await refusal(fetcher(cdn.netloc), f"{cdn.base}{path}")
    assert refused.message == f"the image at {cdn.netloc}{path} could not be fetched as {EXPECTED}"
    assert refused.retryable is retryable
    assert refused.code == "image"


@pytest.mark.parametrize("path", ["/declared-huge.jpg", "/endless.jpg"])
async def test_a_body_over_the_cap_is_refused_without_reading_it_all(cdn: TinyServer, path: str) -> None:
    started = time.monotonic()
    await refusal(fetcher(cdn.netloc), f"{cdn.base}{path}")
    assert time.monotonic() - started < 2
    await asyncio.sleep(0.1)  # the server notices the hang-up
    assert cdn.body_bytes_sent < 20_000_000  # of 50 MB; what is left is the sockets' buffers


async def test_a_slow_body_is_cut_off_at_the_deadline(cdn: TinyServer) -> None:
    started = time.monotonic()
    refused = await refusal(fetcher(cdn.netloc, deadline_s=0.5), f"{cdn.base}/slow.jpg")
    assert 0.4 < time.monotonic() - started < 2
    assert not refused.retryable
