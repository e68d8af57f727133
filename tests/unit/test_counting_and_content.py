import pytest

from activities.platforms.content import image_sources, images, plain_text, rewrite_images, sanitise
from domain.counting import characters, length_problems, reply_problems, utf8_bytes, weibo_units
from domain.platforms import Platform


def test_counters() -> None:
    assert characters("e\u0301") == 1  # NFC: é is one character
    assert utf8_bytes("你好") == 6
    assert weibo_units("你好") == 2
    assert weibo_units("abcd") == 2
    assert weibo_units("abc") == 2  # half a character rounds up
    assert weibo_units("ＡＢ") == 2  # full-width counts whole


def test_limits_name_the_platform_and_the_numbers() -> None:
    assert length_problems(Platform.BAIJIAHAO, title="短标题") == [
        "baijiahao: the title has 3 characters, at least 8 are required"
    ]
    assert length_problems(Platform.WECHAT, title="标" * 33) == [
        "wechat: the title has 33 characters, at most 32 are allowed"
    ]
    assert length_problems(Platform.WEIBO, body_text="字" * 141)[0].startswith("weibo: the status has 141")
    assert length_problems(Platform.ZHIHU, title="x" * 500) == []
    assert reply_problems(Platform.WECHAT, "  ") == ["a reply must not be empty"]
    assert reply_problems(Platform.WEIBO, "字" * 141)


def test_sanitise_keeps_formatting_and_drops_danger() -> None:
    html = sanitise(
        '<h2 style="x">T</h2><p onclick="x">a<a href="javascript:alert(1)">l</a></p><iframe></iframe>'
    )
    assert html == '<h2>T</h2><p>a<a rel="noopener noreferrer">l</a></p>'


def test_images_found_and_rewritten() -> None:
    html = sanitise(
        '<p>x<img src="http://a/1.jpg?x=1&y=2"><img src="http://a/2.png"><img src="http://a/1.jpg?x=1&y=2"></p>'
    )
    assert image_sources(html) == ["http://a/1.jpg?x=1&y=2", "http://a/2.png"]
    rewritten = rewrite_images(
        html, {"http://a/1.jpg?x=1&y=2": "https://w/1", "http://a/2.png": "https://w/2"}
    )
    assert image_sources(rewritten) == ["https://w/1", "https://w/2"]
    assert plain_text("<p>一 <b>二</b></p>") == "一 二"


@pytest.mark.parametrize(
    "src",
    [
        "/uploads/a.jpg",
        "a.jpg",
        "//cdn.example.com/a.jpg",
        "mailto:x@example.com",
        "data:image/png;base64,iVBORw0KGgo=",
        "http://user:pw@cdn.example.com/a.jpg",
    ],
)
def test_only_absolute_http_image_sources_reach_an_adapter(src: str) -> None:
    html = sanitise(f'<p>x</p><img src="{src}" alt="a"><img src="https://cdn.example.com/b.png">')
    assert html == '<p>x</p><img alt="a"><img src="https://cdn.example.com/b.png">'
    assert image_sources(html) == ["https://cdn.example.com/b.png"]


def test_every_image_is_numbered_even_without_a_source() -> None:
    assert images('<img src="/a.jpg"><img><img src="http://h/b.jpg"><img src="/a.jpg">') == [
        "/a.jpg",
        "",
        "http://h/b.jpg",
        "/a.jpg",
    ]


def test_a_source_with_an_apostrophe_is_rewritten_too() -> None:
    html = sanitise("<img src=\"http://a/it's.jpg?x=1&amp;y=2\"><img src='http://a/&quot;q&quot;.png'>")
    sources = image_sources(html)
    assert sources == ["http://a/it's.jpg?x=1&y=2", 'http://a/"q".png']
    rewritten = rewrite_images(html, {sources[0]: "https://w/1", sources[1]: "https://w/2"})
    assert image_sources(rewritten) == ["https://w/1", "https://w/2"]
