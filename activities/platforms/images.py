"""Fetching an article's images without letting an image be a way in (security review H4).

An `<img src>` is written by an author, and the worker fetches it from inside the network, with
the worker's reach: a source on a loopback, private, link-local, CGNAT or cloud-metadata address
would make the worker a proxy into services no author should touch, and whatever such a service
answers with an image type would be published. So an image is fetched only when:
- its URL is absolute http(s), without user info, on port 80 or 443;
- every address its host resolves to is public, checked after DNS resolution; or its host (or
  host:port, which also allows that port) is on the account's explicit list of image hosts;
- the connection goes to an address that was checked (the URL names the address, the Host header
  and TLS's SNI name the host, and the certificate is verified for the host), so DNS cannot
  answer differently between the check and the connection;
- every redirect, followed by hand and at most `MAX_REDIRECTS` times, passes the same checks;
- the body, streamed, stays under the byte cap, arrives within one deadline for the whole fetch,
  and is, by its content type and its first bytes, a format the platform takes.
A failure says which image (host and path, as the author wrote them) and what was expected; the
status, content type or address that made it fail goes to the worker's log only, since telling
the author would make the worker a scanner of the internal network.

The content checks run the same URL and address checks at submission (resolving, never
fetching), so an image that can never be fetched is refused there, before anyone approves.
"""

import asyncio
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx
import structlog

from activities.platforms.base import PlatformError

log = structlog.get_logger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
PUBLIC_PORTS = frozenset(DEFAULT_PORTS.values())
MAX_REDIRECTS = 3
RESOLVE_TIMEOUT_S = 5.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
HOST = re.compile(rb"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")
"""A host name (IDNA-encoded) or an IPv6 address: what DNS or a connection can take."""

IPAddress = IPv4Address | IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure's wire server: a public address that only the VM's host answers
        "fd00:ec2::254",  # AWS instance metadata over IPv6
    )
)
"""Cloud metadata endpoints, refused even where another test would let them through."""

REFUSED_V4: tuple[IPv4Network, ...] = tuple(
    IPv4Network(n)
    for n in (
        "100.64.0.0/10",  # CGNAT shared address space (Alibaba's metadata lives here)
        "192.0.0.0/24",  # IETF protocol assignments (Python counts most of it as global)
        "192.88.99.0/24",  # the deprecated 6to4 relay anycast
    )
)
REFUSED_V6: tuple[IPv6Network, ...] = tuple(
    IPv6Network(n)
    for n in (
        "fec0::/10",  # site-local, deprecated but still routed inside some networks
        "64:ff9b:1::/48",  # local-use NAT64, whose embedding of IPv4 is the network's choice
    )
)
NAT64 = IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, well-known NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def refused_address(address: IPAddress) -> bool:
    """Whether an image may not be fetched from `address`: anything but a public unicast address.

    An IPv6 address that carries an IPv4 one (::ffff:127.0.0.1, 2002:0a00:0005::, 64:ff9b::a00:5)
    is judged by the IPv4 address, which is where the packets end up.
    """
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refused_address(embedded)
        special = address.is_site_local or any(address in n for n in REFUSED_V6)
    else:
        special = any(address in n for n in REFUSED_V4)
    return (
        special
        or address in METADATA_ADDRESSES
        or not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def image_url(src: str) -> httpx.URL | None:
    """`src` as a URL the worker could fetch (absolute http(s), a host, no user info), else None.

    Relative and protocol-relative sources, `mailto:`, `data:` and the like have no place to be
    fetched from; user info would be sent to the image's host as credentials.
    """
    try:
        url = httpx.URL(src.strip())
    except httpx.InvalidURL:
        return None
    if url.scheme not in DEFAULT_PORTS or not HOST.fullmatch(url.raw_host) or url.userinfo:
        return None
    return url


def host_and_port(url: httpx.URL) -> tuple[str, int]:
    """The host (lower case, IDNA-encoded, without a trailing dot) and the port the URL connects to."""
    return url.raw_host.decode("ascii").lower().rstrip("."), url.port or DEFAULT_PORTS[url.scheme]


def place(url: httpx.URL) -> str:
    """The host (and a port other than the scheme's) as the author wrote it, for messages."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port}" if url.port else host


def where(src: str) -> str:
    """An image as the author wrote it, for messages: host and path, without the query."""
    url = image_url(src)
    if url is None:
        return "an address that is not absolute http(s)"
    return (place(url) + url.path)[:120]


@dataclass(frozen=True)
class ImageHosts:
    """An account's explicit list of image hosts (`image_hosts`): trusted without address checks.

    An entry `host` allows that host on ports 80 and 443; `host:port` allows it on that port too.
    This is how a company CDN on a private address, or the demo's fakes on loopback, are allowed.
    """

    entries: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def of(cls, entries: Iterable[str]) -> "ImageHosts":
        parsed = set()
        for entry in entries:
            url = httpx.URL(f"http://{entry}/")
            parsed.add((url.raw_host.decode("ascii").lower().rstrip("."), url.port))
        return cls(frozenset(parsed))

    def allows(self, host: str, port: int) -> bool:
        return (host, port) in self.entries or (port in PUBLIC_PORTS and (host, None) in self.entries)


class ImageRefused(Exception):
    """The image may not be fetched from where its URL points; the message is for the log only."""


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ip_address(host)]
    except ValueError:
        pass
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        raise ImageRefused(f"{host} does not resolve ({type(exc).__name__})") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ImageRefused(f"{host} resolves to no address")
    return addresses


async def checked_addresses(url: httpx.URL, hosts: ImageHosts) -> list[IPAddress]:
    """The addresses the worker may connect to for `url`; raises ImageRefused.

    All of a host's addresses must pass, not just one: the connection is made only to addresses
    that were checked, and a host that also names an internal address is not an image host.
    """
    host, port = host_and_port(url)
    listed = hosts.allows(host, port)
    if not listed and port not in PUBLIC_PORTS:
        raise ImageRefused(f"{host}:{port} is not a listed image host, and {port} is not 80 or 443")
    addresses = await _resolve(host, port)
    if not listed:
        refused = [a for a in addresses if refused_address(a)]
        if refused:
            raise ImageRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return addresses


@dataclass(frozen=True)
class ImageFormat:
    name: str
    content_type: str
    extensions: tuple[str, ...]
    magic: bytes


JPEG = ImageFormat("JPEG", "image/jpeg", ("jpg", "jpeg", "jpe"), b"\xff\xd8\xff")
PNG = ImageFormat("PNG", "image/png", ("png",), b"\x89PNG\r\n\x1a\n")
IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "jpe", "png", "gif", "webp", "bmp", "svg", "tif", "tiff", "heic", "heif", "avif", "ico"}
)
"""File names that say which image format a URL serves (a path without one says nothing)."""


def named_format_refused(url: httpx.URL, formats: Iterable[ImageFormat]) -> bool:
    """Whether the URL's file name says it is an image format none of `formats` is (a .gif, .webp)."""
    extension = url.path.rpartition("/")[2].rpartition(".")[2].lower()
    return extension in IMAGE_EXTENSIONS and all(extension not in f.extensions for f in formats)


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    format: ImageFormat

    def upload(self) -> tuple[str, bytes, str]:
        """The image as an httpx multipart file: name, bytes, content type."""
        return f"image.{self.format.extensions[0]}", self.data, self.format.content_type


def _redirect_target(url: httpx.URL, location: str) -> httpx.URL | None:
    """Where a redirect from `url` points, if that is an image URL (`location` may be relative)."""
    try:
        return image_url(str(url.join(location)))
    except httpx.InvalidURL:
        return None


class _Unfetchable(Exception):
    """Why an image was not fetched (for the log), and whether trying again later could succeed."""

    def __init__(self, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.retryable = retryable


class ImageFetcher:
    """The one way the worker fetches an image (see the module's docstring for what it refuses)."""

    def __init__(
        self, hosts: ImageHosts, formats: tuple[ImageFormat, ...], *, max_bytes: int, deadline_s: float
    ) -> None:
        self.hosts = hosts
        self.formats = formats
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.accept = ", ".join(f.content_type for f in formats)
        self._transport: httpx.AsyncHTTPTransport | None = None

    def expected(self) -> str:
        """What the platform takes, as a person would say it: 'a JPEG or PNG of at most 1 MB'."""
        return f"a {' or '.join(f.name for f in self.formats)} of at most {self.max_bytes / 1_000_000:g} MB"

    @property
    def transport(self) -> httpx.AsyncHTTPTransport:
        """A transport, not a client: no redirects, cookies or credentials of httpx's own; no proxies
        from the environment (the connection must go to the checked address); and no connection
        reuse (a connection is for the one host it was checked for)."""
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
            )
        return self._transport

    async def fetch(self, src: str) -> FetchedImage:
        """The image at `src`; raises a PlatformError whose message names the image, nothing more."""
        try:
            url = image_url(src)
            if url is None:
                raise _Unfetchable("not an absolute http(s) URL")
            async with asyncio.timeout(self.deadline_s):
                return await self._follow(url)
        except _Unfetchable as exc:
            detail, retryable = str(exc), exc.retryable
        except TimeoutError:
            detail, retryable = f"not fetched within {self.deadline_s:g} s", False
        log.warning("image not fetched", image=where(src), detail=detail, retryable=retryable)
        raise PlatformError(
            f"the image at {where(src)} could not be fetched as {self.expected()}",
            code="image",
            retryable=retryable,
        )

    async def _follow(self, url: httpx.URL) -> FetchedImage:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                addresses = await checked_addresses(url, self.hosts)
            except ImageRefused as exc:
                raise _Unfetchable(str(exc)) from None
            response = await self._connect(url, addresses)
            try:
                if response.status_code not in REDIRECTS or "location" not in response.headers:
                    return await self._read(response)
                following = _redirect_target(url, response.headers["location"])
                if following is None:
                    raise _Unfetchable("redirected to an address that is not absolute http(s)")
                url = following
            except httpx.TransportError as exc:
                raise _Unfetchable(f"{type(exc).__name__} while reading", retryable=True) from None
            finally:
                await response.aclose()
        raise _Unfetchable(f"more than {MAX_REDIRECTS} redirects")

    async def _connect(self, url: httpx.URL, addresses: list[IPAddress]) -> httpx.Response:
        """The response from the first checked address that takes the connection."""
        host, _ = host_and_port(url)
        failure = "no address"
        for address in addresses:
            request = httpx.Request(
                "GET",
                url.copy_with(host=str(address)),
                headers={"Host": url.netloc.decode("ascii"), "Accept": self.accept},
                extensions={"sni_hostname": host, "timeout": httpx.Timeout(self.deadline_s).as_dict()},
            )
            try:
                response = await self.transport.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = type(exc).__name__
                continue
            except httpx.TransportError as exc:
                raise _Unfetchable(f"{type(exc).__name__} from {address}", retryable=True) from None
            response.request = request
            return response
        raise _Unfetchable(f"could not connect to {host}: {failure}", retryable=True)

    async def _read(self, response: httpx.Response) -> FetchedImage:
        status = response.status_code
        if status != 200:
            raise _Unfetchable(f"HTTP {status}", retryable=status >= 500 or status == 429)
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        image_format = next((f for f in self.formats if f.content_type == kind), None)
        if image_format is None:
            raise _Unfetchable(f"content type {kind or 'missing'}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _Unfetchable(f"declares {declared} bytes")
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > self.max_bytes:
                raise _Unfetchable(f"more than {self.max_bytes} bytes")
        if not data.startswith(image_format.magic):
            raise _Unfetchable(f"the bytes are not a {image_format.name}")
        return FetchedImage(bytes(data), image_format)
