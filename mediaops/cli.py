"""The `mediaops` command: run the system, manage its schema, users and policy.

Configuration errors end the command with exit code 2 and a message naming the setting or the
policy key, before anything is started.
"""

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from domain.policy import PolicyError, load_policy, overridden_keys
from domain.roles import Role
from mediaops.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

app = typer.Typer(
    name="mediaops",
    help="MediaOps: the new-media operations department's rules as durable workflows.",
    no_args_is_help=True,
    add_completion=False,
)
policy_app = typer.Typer(
    help="The rules in force (policy.toml over the RULEBOOK's defaults).", no_args_is_help=True
)
users_app = typer.Typer(help="People who use MediaOps and their API tokens.", no_args_is_help=True)
events_app = typer.Typer(
    help="The event store: the long-term record of every business fact.", no_args_is_help=True
)
dev_app = typer.Typer(help="Development helpers; refused when MEDIAOPS_ENV=production.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(users_app, name="users")
app.add_typer(events_app, name="events")
app.add_typer(dev_app, name="dev")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"mediaops: {message}", err=True)
    return typer.Exit(code)


def _settings(*, validate_policy: bool = True) -> Settings:
    """Settings from the environment, the policy validated too: a bad value stops here, named."""
    try:
        settings = load_settings()
        if validate_policy:
            _ = settings.policy
    except (SettingsError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    from mediaops.logging import configure_logging

    configure_logging(settings)
    return settings


def _with_db(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from eventstore.db import connect

    async def run() -> T:
        try:
            conn = await connect(settings.dsn)
        except (TimeoutError, OSError) as exc:
            raise _fail(
                f"cannot reach PostgreSQL ({exc}); is `make run` running, or is DATABASE_URL right?", 1
            ) from None
        try:
            return await action(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


@app.command()
def up() -> None:
    """Run everything (what `make run` runs): PostgreSQL, Temporal, the worker and the API."""
    from deploy.stack import PortTaken, Stack

    settings = _settings()
    try:
        code = Stack(settings).run()
    except PortTaken as exc:
        raise _fail(str(exc), 1) from None
    except (RuntimeError, TimeoutError, OSError) as exc:
        raise _fail(f"start-up failed, everything started was stopped: {exc}", 1) from None
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run a worker: every workflow and activity, on the configured task queue."""
    from workers.worker import run_worker

    asyncio.run(run_worker(_settings()))


@app.command()
def api() -> None:
    """Run the HTTP API on MEDIAOPS_API_HOST:MEDIAOPS_API_PORT."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )
    uvicorn.Server(config).run()


@app.command()
def fakes() -> None:
    """Run the fake platforms (127.0.0.1:MEDIAOPS_FAKES_PORT) for the accounts in MEDIAOPS_ACCOUNTS_FILE."""
    import uvicorn

    from activities.platforms.accounts import Accounts, AccountsError
    from deploy.fakes.app import create_fakes_app, demo_account_list

    settings = _settings(validate_policy=False)
    try:
        accounts = (
            Accounts.load(settings.accounts_file)
            if settings.accounts_file
            else Accounts(demo_account_list(f"http://127.0.0.1:{settings.fakes_port}"))
        )
    except AccountsError as exc:
        raise _fail(str(exc)) from None
    app_ = create_fakes_app(accounts, callback_base=settings.api_url)
    uvicorn.Server(
        uvicorn.Config(app_, host="127.0.0.1", port=settings.fakes_port, log_config=None, access_log=False)
    ).run()


@app.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run while other processes start)."""
    from eventstore.db import ensure_database
    from eventstore.migrate import migrate as apply

    settings = _settings(validate_policy=False)
    asyncio.run(ensure_database(settings.dsn))
    applied = _with_db(settings, apply)
    for migration in applied:
        typer.echo(f"applied {migration.version:04d}_{migration.name}")
    typer.echo("schema up to date")


def _show(value: Any) -> str:
    """A JSON-mode policy value as a person would write it in policy.toml."""
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@policy_app.command("show")
def policy_show(
    as_json: Annotated[bool, typer.Option("--json", help="print the effective policy as JSON")] = False,
) -> None:
    """Print the effective policy: each rule id, its parameters, and where each value came from."""
    settings = _settings(validate_policy=False)
    path = settings.effective_policy_file
    try:
        policy, overrides = load_policy(path)
    except PolicyError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(policy.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    changed = overridden_keys(overrides)
    origin = f"{path}" if path is not None else ""
    typer.echo(f"timezone = {policy.timezone}    ({origin if 'timezone' in changed else 'default'})")
    for rule, params in policy.rule_params():
        typer.echo(f"\n{rule.value}  {(type(params).__doc__ or '').strip()}")
        for name, value in params.model_dump(mode="json").items():
            source = origin if f"{rule.value}.{name}" in changed else "RULEBOOK default"
            typer.echo(f"  {name} = {_show(value)}    ({source})")


@users_app.command("list")
def users_list() -> None:
    """List active users and their roles."""
    from api.users import list_users

    for user in _with_db(_settings(validate_policy=False), list_users):
        typer.echo(f"{user.id}\t{','.join(sorted(user.roles))}\t{user.display_name}")


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="login id: lower-case letters, digits, . _ -")],
    role: Annotated[list[Role], typer.Option("--role", "-r", help="a role (repeatable)")],
    name: Annotated[str, typer.Option(help="display name")] = "",
) -> None:
    """Create or update a user with the given roles."""
    from api.users import upsert_user

    user = _with_db(
        _settings(validate_policy=False),
        lambda conn: upsert_user(conn, user_id, name or user_id, frozenset(role)),
    )
    typer.echo(f"{user.id}\t{','.join(sorted(user.roles))}")


@users_app.command("token")
def users_token(
    user_id: Annotated[str, typer.Argument(help="the user's id")],
    label: Annotated[str, typer.Option(help="what the token is for")] = "cli",
) -> None:
    """Issue a new API token for a user and print it (it is stored only as a hash)."""
    from api.users import issue_token

    try:
        token = _with_db(_settings(validate_policy=False), lambda conn: issue_token(conn, user_id, label))
    except LookupError as exc:
        raise _fail(str(exc), 1) from None
    typer.echo(token)


@events_app.command("verify")
def events_verify(
    stream: Annotated[str | None, typer.Option("--stream", help="check only this stream")] = None,
) -> None:
    """Check every stream's hash chain: exit 0 when intact, 1 naming the first broken link."""
    from eventstore.verify import verify

    result = _with_db(_settings(validate_policy=False), lambda conn: verify(conn, stream))
    if result.broken is not None:
        typer.echo(f"broken: {result.broken}", err=True)
        raise typer.Exit(1)
    typer.echo(f"intact: {result.events} events in {result.streams} streams")


@events_app.command("projections")
def events_projections() -> None:
    """Each projection's checkpoint and how many committed events it has yet to apply."""
    from eventstore.projections import lags

    found = _with_db(_settings(validate_policy=False), lags)
    if not found:
        typer.echo("no projection has run yet")
    for lag in found:
        typer.echo(f"{lag.name}\tposition {lag.checkpoint.position}\tbehind {lag.events_behind}")


@users_app.command("revoke")
def users_revoke(user_id: Annotated[str, typer.Argument(help="the user's id")]) -> None:
    """Revoke every API token of a user (a leaked token, someone leaving: R-SECRETS)."""
    from api.users import revoke_tokens

    count = _with_db(_settings(validate_policy=False), lambda conn: revoke_tokens(conn, user_id))
    typer.echo(f"revoked {count} token(s) of {user_id}")


def _dev_settings() -> Settings:
    settings = _settings(validate_policy=False)
    if settings.env == "production":
        raise _fail("`mediaops dev` commands are refused when MEDIAOPS_ENV=production", 1)
    return settings


@dev_app.command("token")
def dev_token(role: Annotated[Role, typer.Argument(help="the role whose demo user gets the token")]) -> None:
    """Print a bearer token for ROLE's demo user (e.g. `curl -H "Authorization: Bearer $(...)"`)."""
    from api.users import demo_user_id, ensure_demo_users, issue_token

    async def issue(conn: Any) -> str:
        await ensure_demo_users(conn)
        return await issue_token(conn, demo_user_id(role), "dev token")

    typer.echo(_with_db(_dev_settings(), issue))


def _tell_the_fake(base_url: str, appid: str, sender: str, text: str) -> None:
    """When the account is the fake WeChat, it learns that the user wrote, as the real one would have
    (else it refuses the reply: 45015, no message in 48 hours). A real account is left alone."""
    import httpx

    base = base_url.rstrip("/")
    try:
        if httpx.get(f"{base}/__fake__/state", timeout=2).status_code != 200:
            return
        body = {"appid": appid, "openid": sender, "text": text, "deliver": False}
        httpx.post(f"{base}/__fake__/user-message", json=body, timeout=5)
    except httpx.HTTPError:
        return


@dev_app.command("wechat-message")
def dev_wechat_message(
    sender: Annotated[str, typer.Option("--from", help="the user's OPENID")],
    text: Annotated[str, typer.Option(help="what the user writes")],
    account: Annotated[str, typer.Option(help="the WeChat account's name")] = "demo",
    msg_id: Annotated[int | None, typer.Option(help="WeChat's MsgId (default: a new one)")] = None,
    safe: Annotated[bool, typer.Option("--safe", help="encrypt as in WeChat's safe mode")] = False,
) -> None:
    """Post a user's text message to the running API's callback, signed exactly as WeChat would."""
    import secrets
    import time

    import httpx

    from activities.platforms.accounts import Accounts, AccountsError
    from activities.platforms.wechat_crypto import WeChatCipher, signature, to_xml
    from domain.platforms import Platform

    settings = _dev_settings()
    try:
        acct = Accounts.load(settings.accounts_file or settings.home / "accounts.toml").get(
            Platform.WECHAT, account
        )
    except AccountsError as exc:
        raise _fail(str(exc)) from None
    token, timestamp, nonce = acct.token.get_secret_value(), str(int(time.time())), secrets.token_hex(5)
    message = to_xml(
        {
            "ToUserName": acct.appid,
            "FromUserName": sender,
            "CreateTime": int(timestamp),
            "MsgType": "text",
            "Content": text,
            "MsgId": msg_id if msg_id is not None else int(time.time() * 1000),
        }
    )
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if safe:
        if not acct.aes_keys:
            raise _fail(f"account {account} has no EncodingAESKey for safe mode")
        encrypted = WeChatCipher([acct.aes_keys[0].get_secret_value()], acct.appid).encrypt(message.encode())
        query.update(encrypt_type="aes", msg_signature=signature(token, timestamp, nonce, encrypted))
        message = to_xml({"ToUserName": acct.appid, "Encrypt": encrypted})
    _tell_the_fake(acct.base_url, acct.appid, sender, text)
    url = f"{settings.api_url}/webhooks/wechat/{account}"
    try:
        response = httpx.post(url, params=query, content=message.encode(), timeout=10)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc} (is `make run` running?)", 1) from None
    typer.echo(f"{response.status_code} {response.text}")


@dev_app.command("dsn")
def dev_dsn() -> None:
    """Print the connection URL of the PostgreSQL database in use."""
    typer.echo(_dev_settings().dsn)


def main() -> None:
    """Run the CLI and leave without interpreter teardown.

    temporalio's Rust core keeps threads that can crash CPython's finalisation (sdk-python #300),
    turning a clean run into an abort; the exit code must be the command's, so flush and _exit.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
