"""Preparing a post's HTML for a platform: sanitised, its images found and their sources rewritten.

Posts are written by people in an editor; what reaches a platform must be safe HTML (no scripts,
no event handlers, no foreign frames), and on WeChat every image must be re-hosted on WeChat's
own servers, because external image URLs are stripped from articles.
"""

import html
from html.parser import HTMLParser

import nh3

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


def sanitise(body_html: str) -> str:
    """Safe HTML: only formatting tags, links with http(s) and mailto, images; no scripts or styles."""
    return nh3.clean(
        body_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src and src not in self.sources:
                self.sources.append(src)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def image_sources(body_html: str) -> list[str]:
    """Each distinct image URL in the post, in order of appearance."""
    parser = _Images()
    parser.feed(body_html)
    return parser.sources


def plain_text(body_html: str) -> str:
    """The post's text without markup, for counting and for platforms that take text only."""
    parser = _Images()
    parser.feed(body_html)
    return " ".join(" ".join(parser.text).split())


def rewrite_images(sanitised_html: str, new_sources: dict[str, str]) -> str:
    """Replace each image's `src` by its re-hosted URL (input must come from `sanitise`)."""
    result = sanitised_html
    for old, new in new_sources.items():
        result = result.replace(f'src="{html.escape(old)}"', f'src="{html.escape(new)}"')
    return result
