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


PLATFORM_NAMES: dict[Platform, str] = {
    Platform.WEBSITE: "官方网站 website",
    Platform.WECHAT: "微信公众号 WeChat",
    Platform.MINIPROGRAM: "小程序 mini program",
    Platform.WEIBO: "微博 Weibo",
    Platform.BAIJIAHAO: "百家号 Baijiahao",
    Platform.ZHIHU: "知乎 Zhihu",
    Platform.SOHU: "搜狐号 Sohu",
    Platform.TOUTIAO: "头条号 Toutiao",
    Platform.BAIDU_ZHIDAO: "百度知道 Baidu Zhidao",
}
"""Each platform as the department names it (in reports and the console), Chinese then English."""

ALL_PLATFORMS: tuple[Platform, ...] = tuple(Platform)
NEW_MEDIA_PLATFORMS: tuple[Platform, ...] = tuple(p for p in Platform if p is not Platform.WEBSITE)

REPLIED_BY_HAND: frozenset[Platform] = frozenset(
    {Platform.BAIJIAHAO, Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO}
)
"""No reply API: staff answer in the platform's own console, and the answer is recorded as given."""
