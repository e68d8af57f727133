"""Preparing a post's HTML for a platform: sanitised, its images found and their sources rewritten.

Posts are written by people in an editor; what reaches a platform must be safe HTML (no scripts,
no event handlers, no foreign frames), and on WeChat every image must be re-hosted on WeChat's
own servers, because external image URLs are stripped from articles.

An image's `src` survives sanitising only as an absolute http(s) URL: a relative, protocol-relative
or `mailto:` source has nowhere the worker could fetch it from, and the content checks refuse it at
submission, so an adapter never meets one.
"""

from collections.abc import Mapping
from html.parser import HTMLParser

import nh3

from activities.platforms.images import image_url

ALLOWED_TAGS = {
    "p", "br", "span", "strong", "b", "em", "i", "u", "s", "sub", "sup", "blockquote", "pre", "code",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td", "section", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


def sanitise(body_html: str, new_sources: Mapping[str, str] | None = None) -> str:
    """Safe HTML: only formatting tags, links with http(s) and mailto, images with absolute http(s)
    sources (each replaced by `new_sources[src]` when given); no scripts or styles."""
    sources = new_sources or {}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag != "img" or attribute != "src":
            return value
        if image_url(value) is None:
            return None
        return sources.get(value, value.strip())

    return nh3.clean(
        body_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.every: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.every.append(dict(attrs).get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def images(body_html: str) -> list[str]:
    """Every image's `src` in order, repeats included ("" for an image without one): what an
    author's images are numbered by."""
    parser = _Images()
    parser.feed(body_html)
    return parser.every


def image_sources(body_html: str) -> list[str]:
    """Each distinct image URL in the post, in order of appearance."""
    return list(dict.fromkeys(src for src in images(body_html) if src))


def plain_text(body_html: str) -> str:
    """The post's text without markup, for counting and for platforms that take text only."""
    parser = _Images()
    parser.feed(body_html)
    return " ".join(" ".join(parser.text).split())


def rewrite_images(sanitised_html: str, new_sources: Mapping[str, str]) -> str:
    """Replace each image's `src` by its re-hosted URL (keys as `image_sources` gives them).

    nh3 rewrites the attribute itself, on the decoded value, so a source is found however it was
    escaped (an apostrophe is `'` to nh3 and `&#x27;` to html.escape).
    """
    return sanitise(sanitised_html, new_sources)
