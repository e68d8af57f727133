"""The company's platforms, by the ids scripts outside the project rely on."""

from enum import StrEnum


class Platform(StrEnum):
    WEBSITE = "website"
    WECHAT = "wechat"
    MINIPROGRAM = "miniprogram"
    WEIBO = "weibo"
    BAIJIAHAO = "baijiahao"
    ZHIHU = "zhihu"
    SOHU = "sohu"
    TOUTIAO = "toutiao"
    BAIDU_ZHIDAO = "baidu_zhidao"


ALL_PLATFORMS: tuple[Platform, ...] = tuple(Platform)
NEW_MEDIA_PLATFORMS: tuple[Platform, ...] = tuple(p for p in Platform if p is not Platform.WEBSITE)

REPLIED_BY_HAND: frozenset[Platform] = frozenset(
    {Platform.BAIJIAHAO, Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO}
)
"""No reply API: staff answer in the platform's own console, and the answer is recorded as given."""
