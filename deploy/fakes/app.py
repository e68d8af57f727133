"""All fake platforms in one ASGI app, one path prefix per platform id (`mediaops fakes`, :8900)."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI
from pydantic import SecretStr

from activities.platforms.accounts import Account, Accounts
from deploy.fakes import others, wechat
from deploy.fakes.shared import Common, StateFile
from domain.platforms import Platform

DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

StateT = TypeVar("StateT", bound=Common)


def kept(state: StateT, platform: Platform, state_dir: Path | None) -> StateT:
    """`state` (holding the platform's configuration), with what it saved in `state_dir` before,
    saving there from now on; with no `state_dir`, as it is, in memory only."""
    if state_dir is not None:
        state.keep_in(StateFile(state_dir / f"{platform}.json"))
    return state


def wechat_state(accounts: Accounts, platform: Platform, callback_base: str | None) -> wechat.WeChatState:
    apps = {
        a.appid: wechat.FakeApp(
            appid=a.appid,
            original_id=a.original_id,
            secret=a.secret.get_secret_value(),
            token=a.token.get_secret_value(),
            aes_key=a.aes_keys[0].get_secret_value() if a.aes_keys else None,
            callback_url=f"{callback_base}/webhooks/{platform}/{a.name}" if callback_base else None,
        )
        for a in accounts.all()
        if a.platform is platform
    }
    return wechat.WeChatState(apps=apps)


def create_fakes_app(
    accounts: Accounts, callback_base: str | None = None, state_dir: Path | None = None
) -> FastAPI:
    """The fakes for `accounts` (which share their credentials); pushes go to `callback_base`.

    With `state_dir` (a folder of the owner's only), each platform keeps its state there, one file
    per platform, so a restarted fake goes on where it stopped; without, the state is in memory.
    """
    if state_dir is not None:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pushers = {
        p: kept(wechat_state(accounts, p, callback_base), p, state_dir)
        for p in (Platform.WECHAT, Platform.MINIPROGRAM)
    }

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for state in pushers.values():
            if state.pusher is not None:
                await state.pusher.aclose()

    app = FastAPI(title="MediaOps fake platforms", docs_url="/__docs__", lifespan=lifespan)
    of = {p: [a for a in accounts.all() if a.platform is p] for p in Platform}
    for platform, state in pushers.items():
        app.include_router(wechat.router(state), prefix=f"/{platform}")
    website = others.WordPressState(
        users={a.username: a.password.get_secret_value() for a in of[Platform.WEBSITE]}
    )
    app.include_router(others.wordpress(kept(website, Platform.WEBSITE, state_dir)), prefix="/website")
    weibo = others.WeiboState(tokens={a.token.get_secret_value(): a.appid for a in of[Platform.WEIBO]})
    app.include_router(others.weibo(kept(weibo, Platform.WEIBO, state_dir)), prefix="/weibo")
    baijiahao = others.BaijiahaoState(
        apps={a.appid: a.token.get_secret_value() for a in of[Platform.BAIJIAHAO]}
    )
    app.include_router(others.baijiahao(kept(baijiahao, Platform.BAIJIAHAO, state_dir)), prefix="/baijiahao")
    for platform in (Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO):
        app.include_router(others.manual(kept(Common(), platform, state_dir)), prefix=f"/{platform}")
    app.include_router(wechat.assets(), prefix="/assets")
    return app


def demo_account_list(base: str, *, timeout_s: float = 15.0) -> list[Account]:
    """One `demo` account per platform, pointing at fakes served at `base` (what `make run` uses).

    Each may fetch images from the fakes (their host:port, on loopback, is the accounts' one image
    host), and the WeChat account's default cover is one the fakes serve.
    """
    secret = SecretStr
    common = {"name": "demo", "timeout_s": timeout_s, "image_hosts": (urlsplit(base).netloc,)}
    return [
        Account(
            platform=Platform.WECHAT,
            base_url=f"{base}/wechat",
            appid="wxdemo0000000001",
            original_id="gh_de0000000001",
            secret=secret("demo-wechat-secret"),
            token=secret("demo-wechat-token"),
            aes_keys=(secret(DEMO_AES_KEY),),
            default_cover=f"{base}/assets/default-cover.jpg",
            **common,
        ),
        Account(
            platform=Platform.MINIPROGRAM,
            base_url=f"{base}/miniprogram",
            appid="wxdemomini000001",
            original_id="gh_de0000000002",
            secret=secret("demo-mini-secret"),
            token=secret("demo-mini-token"),
            username="demo-env",
            **common,
        ),
        Account(
            platform=Platform.WEBSITE,
            base_url=f"{base}/website",
            username="mediaops",
            password=secret("demo app password"),
            **common,
        ),
        Account(
            platform=Platform.WEIBO,
            base_url=f"{base}/weibo",
            appid="1000001",
            secret=secret("demo-weibo-secret"),
            token=secret("demo-weibo-token"),
            **common,
        ),
        Account(
            platform=Platform.BAIJIAHAO,
            base_url=f"{base}/baijiahao",
            appid="bjh-demo",
            token=secret("demo-bjh-token"),
            **common,
        ),
        *(
            Account(platform=p, base_url=f"{base}/{p}", **common)
            for p in (Platform.ZHIHU, Platform.SOHU, Platform.TOUTIAO, Platform.BAIDU_ZHIDAO)
        ),
    ]


def write_accounts(path: Path, accounts: list[Account]) -> None:
    """A secrets file in the format Accounts.load reads; readable by its owner only."""
    lines = []
    for account in accounts:
        lines.append("[[account]]")
        for key, value in account.model_dump().items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, tuple):
                value = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
            if value in ("", (), []):
                continue
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines), encoding="utf-8")
