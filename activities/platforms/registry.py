"""Which adapter serves an account."""

from collections.abc import Callable

from activities.platforms.accounts import Account
from activities.platforms.baijiahao import BaijiahaoAdapter
from activities.platforms.base import PlatformAdapter
from activities.platforms.manual import MANUAL_PLATFORMS, ManualAdapter
from activities.platforms.miniprogram import MiniProgramAdapter
from activities.platforms.website import WebsiteAdapter
from activities.platforms.wechat import WeChatAdapter
from activities.platforms.weibo import WeiboAdapter
from domain.platforms import Platform


def adapter_for(account: Account) -> PlatformAdapter:
    if account.platform in MANUAL_PLATFORMS:
        return ManualAdapter(account)
    adapters: dict[Platform, Callable[[Account], PlatformAdapter]] = {
        Platform.WECHAT: WeChatAdapter,
        Platform.MINIPROGRAM: MiniProgramAdapter,
        Platform.WEBSITE: WebsiteAdapter,
        Platform.WEIBO: WeiboAdapter,
        Platform.BAIJIAHAO: BaijiahaoAdapter,
    }
    return adapters[account.platform](account)
