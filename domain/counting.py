"""How each platform counts characters, in one place (platforms.md: "keep the counters in one module").

WeChat counts characters of the NFC text and also caps bytes; Weibo counts a CJK (wide) character
as 1 and a half-width one as 0.5; Baijiahao titles are 8–40 characters. A post is checked against
these before any call, so a platform's refusal for length never comes as a surprise.
"""

import math
import unicodedata
from dataclasses import dataclass

from domain.platforms import Platform


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def characters(text: str) -> int:
    """Characters as WeChat and most platforms count them: code points of the NFC text."""
    return len(nfc(text))


def utf8_bytes(text: str) -> int:
    return len(nfc(text).encode("utf-8"))


def weibo_units(text: str) -> int:
    """Weibo's count: wide (CJK, full-width) characters are 1, others 0.5, rounded up."""
    halves = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in nfc(text))
    return math.ceil(halves / 2)


@dataclass(frozen=True)
class Limits:
    """A platform's hard limits; None means the platform sets none we know of."""

    title_min: int | None = None
    title_max: int | None = None
    body_max_chars: int | None = None
    body_max_bytes: int | None = None
    author_max: int | None = None
    digest_max: int | None = None
    status_max_units: int | None = None
    reply_max_chars: int | None = None


LIMITS: dict[Platform, Limits] = {
    Platform.WECHAT: Limits(
        title_max=32,
        author_max=16,
        digest_max=128,
        body_max_chars=19_999,
        body_max_bytes=1_000_000,
        reply_max_chars=2048,
    ),
    Platform.MINIPROGRAM: Limits(title_max=64, body_max_chars=20_000, reply_max_chars=2048),
    Platform.WEIBO: Limits(status_max_units=140, reply_max_chars=140),
    Platform.BAIJIAHAO: Limits(title_min=8, title_max=40, body_max_chars=20_000),
    Platform.WEBSITE: Limits(title_max=200),
}


def length_problems(
    platform: Platform, *, title: str = "", body_text: str = "", body_html: str = ""
) -> list[str]:
    """What in a post exceeds `platform`'s limits, each problem said in full; empty when it fits."""
    limits = LIMITS.get(platform, Limits())
    checks = [
        ("the title", "characters", characters(title), limits.title_min, limits.title_max),
        ("the body", "characters", characters(body_html), None, limits.body_max_chars),
        ("the body", "bytes", utf8_bytes(body_html), None, limits.body_max_bytes),
        ("the status", "characters (Weibo count)", weibo_units(body_text), None, limits.status_max_units),
    ]
    problems = []
    for what, unit, n, low, high in checks:
        if low is not None and n < low:
            problems.append(f"{platform}: {what} has {n} {unit}, at least {low} are required")
        if high is not None and n > high:
            problems.append(f"{platform}: {what} has {n} {unit}, at most {high} are allowed")
    return problems


def reply_problems(platform: Platform, text: str) -> list[str]:
    limits = LIMITS.get(platform, Limits())
    if not text.strip():
        return ["a reply must not be empty"]
    units = weibo_units(text) if platform is Platform.WEIBO else characters(text)
    if limits.reply_max_chars is not None and units > limits.reply_max_chars:
        return [f"{platform}: the reply counts {units} characters, at most {limits.reply_max_chars}"]
    return []
