"""Which image URLs and addresses the worker may fetch from (security review H4). No network: only
literal addresses and `localhost` are resolved."""

from ipaddress import ip_address

import httpx
import pytest

from activities.platforms.images import (
    JPEG,
    PNG,
    ImageHosts,
    ImageRefused,
    checked_addresses,
    image_url,
    named_format_refused,
    refused_address,
    where,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # AWS, GCP, Azure metadata
        "169.254.170.2",  # ECS credentials
        "100.64.0.1",  # CGNAT
        "100.100.100.200",  # Alibaba Cloud metadata, inside CGNAT
        "168.63.129.16",  # Azure wire server: public, yet the VM's host
        "0.0.0.0",  # noqa: S104 - the unspecified address, as a destination
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.0.192",  # IETF protocol assignments, which Python calls global
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fec0::1",  # site-local
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.5",
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "64:ff9b:1::1",  # local-use NAT64
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refused_address(ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_not(address: str) -> None:
    assert not refused_address(ip_address(address))


@pytest.mark.parametrize(
    "src",
    [
        "/uploads/a.jpg",
        "uploads/a.jpg",
        "//cdn.example.com/a.jpg",
        "mailto:someone@example.com",
        "data:image/png;base64,iVBORw0KGgo=",
        "file:///etc/passwd",
        "ftp://example.com/a.jpg",
        "javascript:alert(1)",
        "http:///a.jpg",
        "http://user:password@cdn.example.com/a.jpg",
        "http://exa mple.com/a.jpg",
        "",
    ],
)
def test_only_absolute_http_urls_are_image_urls(src: str) -> None:
    assert image_url(src) is None


def test_absolute_http_urls_are() -> None:
    for src in ("http://cdn.example.com/a.jpg", "HTTPS://CDN.example.com/a.jpg", " https://[::1]:8443/a "):
        assert image_url(src) is not None


async def addresses(src: str, *hosts: str) -> list[str]:
    url = image_url(src)
    assert url is not None
    return [str(a) for a in await checked_addresses(url, ImageHosts.of(hosts))]


@pytest.mark.parametrize(
    "src",
    [
        "http://127.0.0.1/healthz",
        "http://localhost/healthz",
        "http://LOCALHOST./healthz",
        "http://2130706433/",  # 127.0.0.1 written as one number
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://100.100.100.200/latest/meta-data/ram/security-credentials/",
        "http://10.0.0.5:80/_cat/indices",
        "https://8.8.8.8:8443/a.jpg",  # public, but not port 80 or 443
        "http://127.0.0.1:8233/api/v1/namespaces/default/workflows",
    ],
)
async def test_refused_sources(src: str) -> None:
    with pytest.raises(ImageRefused):
        await addresses(src)


async def test_a_public_address_on_a_web_port_is_fetched_from_that_address() -> None:
    assert await addresses("http://8.8.8.8/a.jpg") == ["8.8.8.8"]
    assert await addresses("https://[2606:4700::1111]:443/a.jpg") == ["2606:4700::1111"]


async def test_the_allowlist_names_a_host_and_optionally_its_port() -> None:
    assert await addresses("http://127.0.0.1:8900/assets/a.jpg", "127.0.0.1:8900") == ["127.0.0.1"]
    assert await addresses("http://localhost/a.jpg", "LocalHost") == ["127.0.0.1"]
    assert await addresses("https://[::1]/a.jpg", "[::1]") == ["::1"]
    for src, listed in [
        ("http://127.0.0.1:8901/a.jpg", "127.0.0.1:8900"),  # another port
        ("http://127.0.0.1:8900/a.jpg", "127.0.0.1"),  # a host without a port allows 80 and 443 only
        ("http://localhost:8900/a.jpg", "127.0.0.1:8900"),  # the list names hosts, not addresses
        ("http://127.0.0.1:8900/a.jpg", "localhost:8900"),
    ]:
        with pytest.raises(ImageRefused):
            await addresses(src, listed)


def test_file_names_that_say_another_format() -> None:
    def refused(src: str) -> bool:
        return named_format_refused(httpx.URL(src), (JPEG, PNG))

    assert refused("https://cdn.example.com/a/anim.GIF")
    assert refused("https://cdn.example.com/a.webp")
    assert not refused("https://cdn.example.com/a.JPEG?x=.gif")
    assert not refused("https://cdn.example.com/a.png")
    assert not refused("https://cdn.example.com/render?id=7")  # nothing said: the fetch decides
    assert not refused("https://cdn.example.com/v1.2/photo")


def test_where_names_the_image_as_written_without_its_query() -> None:
    assert where("http://cdn.example.com:8080/a/b.jpg?token=secret#x") == "cdn.example.com:8080/a/b.jpg"
    assert where("https://[::1]/a.jpg") == "[::1]/a.jpg"
    assert where("/uploads/a.jpg") == "an address that is not absolute http(s)"
