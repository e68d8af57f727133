"""The change a reviewer is shown between two versions of an article (api/console/record.py)."""

from api.console.record import difference
from domain import articles as a
from domain.platforms import Platform


def content(body: str, title: str = "新园区开工") -> a.Content:
    return a.Content(title=title, body=body, category="news", platforms=(Platform.WEBSITE,))


def test_the_change_is_by_paragraph_with_the_images_and_fields() -> None:
    before = content('<p>第一段。</p><p>第二段&amp;说明。</p><img src="https://a.example/1.jpg">')
    after = content('<p>第一段。</p><p>第二段改了。</p><img src="https://a.example/2.jpg">', title="新园区")
    changed = {(sign, line) for sign, line in difference(before, after) if sign != " "}
    assert changed == {
        ("-", "标题：新园区开工"), ("+", "标题：新园区"),
        ("-", "第二段&说明。"), ("+", "第二段改了。"),
        ("-", "图片：https://a.example/1.jpg"), ("+", "图片：https://a.example/2.jpg"),
    }  # fmt: skip
    assert ("", "") not in changed
    assert (" ", "第一段。") in difference(before, after)


def test_the_same_content_has_no_change() -> None:
    same = content("<p>不变。</p>")
    assert all(sign == " " for sign, _ in difference(same, same))
