"""All fake platforms in one ASGI app, one path prefix per platform id (`mediaops fakes`, :8900)."""

from fastapi import FastAPI

from activities.platforms.accounts import Accounts
from deploy.fakes import wechat
from domain.platforms import Platform

FAKES_PORT = 8900


def wechat_state(accounts: Accounts, platform: Platform, callback_base: str | None) -> wechat.WeChatState:
    apps = {
        a.appid: wechat.FakeApp(
            appid=a.appid,
            secret=a.secret.get_secret_value(),
            token=a.token.get_secret_value(),
            aes_key=a.aes_keys[0].get_secret_value() if a.aes_keys else None,
            callback_url=f"{callback_base}/webhooks/{platform}/{a.name}" if callback_base else None,
        )
        for a in accounts.all()
        if a.platform is platform
    }
    return wechat.WeChatState(apps=apps)


def create_fakes_app(accounts: Accounts, callback_base: str | None = None) -> FastAPI:
    """The fakes for `accounts` (which share their credentials); pushes go to `callback_base`."""
    app = FastAPI(title="MediaOps fake platforms", docs_url="/__docs__")
    app.state.wechat = wechat_state(accounts, Platform.WECHAT, callback_base)
    app.include_router(wechat.router(app.state.wechat), prefix="/wechat")
    app.include_router(wechat.assets(), prefix="/assets")
    return app
