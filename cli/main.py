"""The `mediaops` command: run the system, manage its schema, users and policy.

Configuration errors end the command with exit code 2 and a message naming the setting or the
policy key, before anything is started.
"""

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from cli.report import report_app
from domain.policy import PolicyError, load_policy, overridden_keys
from domain.roles import Role
from mediaops.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

app = typer.Typer(
    name="mediaops",
    help="MediaOps: the new-media operations department's rules as durable workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # tracebacks go through the log redactor, not rich (R-SECRETS)
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
keys_app = typer.Typer(
    help="The system's own keys: payload encryption and command signing (R-SECRETS).", no_args_is_help=True
)
ops_app = typer.Typer(
    help="Ops with the Temporal UI and CLI: commands signed as yourself.", no_args_is_help=True
)
app.add_typer(dev_app, name="dev")
app.add_typer(keys_app, name="keys")
app.add_typer(ops_app, name="ops")
audit_app = typer.Typer(
    help="Audits: the record checked against this release's code and rules.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")


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


def _with_db(settings: Settings, action: Callable[[Any], Awaitable[T]], *, owner: bool = False) -> T:
    """Run `action` on a connection as the application role, or as the schema's owner (migrations)."""
    import asyncpg

    from eventstore.db import connect

    async def run() -> T:
        try:
            conn = await connect(settings.admin_dsn if owner else settings.dsn)
        except (TimeoutError, OSError) as exc:
            raise _fail(
                f"cannot reach PostgreSQL ({exc}); is `make run` running, or is DATABASE_URL right?", 1
            ) from None
        except asyncpg.InvalidAuthorizationSpecificationError as exc:
            raise _fail(
                f"PostgreSQL refused the login ({exc}); `make run` writes the embedded server's "
                "passwords on its first start, an external server needs DATABASE_URL's",
                1,
            ) from None
        try:
            return await action(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _refuse_in_production(settings: Settings, what: str) -> None:
    if settings.env == "production":
        raise _fail(f"{what} is for development: refused when MEDIAOPS_ENV=production", 1)


def _production_ready(settings: Settings, *, accounts: Any = None, database: bool = True) -> None:
    """Stop here, naming each setting, when the TLS files cannot be read or production mode's
    requirements are not met."""
    from cli.production import database_problems, settings_problems
    from mediaops.temporal import tls_config

    try:
        tls_config(settings)  # the certificate files are read now: one that cannot be is named here
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    problems = settings_problems(settings, accounts, database=database)
    if not problems and database and settings.env == "production":
        problems = _with_db(settings, lambda conn: database_problems(settings, conn))
    if problems:
        raise _fail("MEDIAOPS_ENV=production: " + "; ".join(problems), 1)


def _accounts(settings: Settings) -> Any:
    from activities.platforms.accounts import Accounts, AccountsError

    try:
        return Accounts.load(settings.accounts_file)
    except AccountsError as exc:
        raise _fail(f"MEDIAOPS_ACCOUNTS_FILE: {exc}") from None


def _observability(settings: Settings) -> str | None:
    """The process's metrics set up (before any Temporal client); where the SDK exports them."""
    from mediaops.observability import install

    try:
        return install(settings)
    except SettingsError as exc:
        raise _fail(str(exc)) from None


@app.command()
def up() -> None:
    """Run everything (what `make run` runs): PostgreSQL, Temporal, the worker and the API."""
    from deploy.stack import PortTaken, Stack

    settings = _settings()
    _refuse_in_production(settings, "`mediaops up` (embedded PostgreSQL and Temporal, the fakes, demo users)")
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
    from eventstore.migrate import MigrationError
    from workers.worker import run_worker

    settings = _settings()
    _production_ready(settings, accounts=_accounts(settings))
    try:
        asyncio.run(run_worker(settings, sdk_metrics_url=_observability(settings)))
    except MigrationError as exc:
        raise _fail(str(exc), 1) from None


@app.command()
def api() -> None:
    """Run the HTTP API on MEDIAOPS_API_HOST:MEDIAOPS_API_PORT."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    accounts = _accounts(settings)
    _production_ready(settings, accounts=accounts)
    config = uvicorn.Config(
        create_app(settings, accounts, sdk_metrics_url=_observability(settings)),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )
    uvicorn.Server(config).run()


@app.command()
def fakes() -> None:
    """Run the fake platforms (127.0.0.1:MEDIAOPS_FAKES_PORT) for the accounts in MEDIAOPS_ACCOUNTS_FILE.

    Their state is kept in MEDIAOPS_HOME/fakes, so a fake restarted by `make run` goes on where it was.
    """
    import uvicorn

    from activities.platforms.accounts import Accounts, AccountsError
    from deploy.fakes.app import create_fakes_app, demo_account_list

    settings = _settings(validate_policy=False)
    _refuse_in_production(settings, "`mediaops fakes` (fake platforms)")
    try:
        accounts = (
            Accounts.load(settings.accounts_file)
            if settings.accounts_file
            else Accounts(demo_account_list(f"http://127.0.0.1:{settings.fakes_port}"))
        )
    except AccountsError as exc:
        raise _fail(str(exc)) from None
    app_ = create_fakes_app(accounts, callback_base=settings.api_url, state_dir=settings.home / "fakes")
    uvicorn.Server(
        uvicorn.Config(app_, host="127.0.0.1", port=settings.fakes_port, log_config=None, access_log=False)
    ).run()


@app.command()
def migrate() -> None:
    """Apply pending database migrations as the schema's owner (safe while other processes start)."""
    from eventstore.db import ensure_database
    from eventstore.migrate import migrate as apply

    settings = _settings(validate_policy=False)
    if settings.env == "production" and settings.embedded_postgres:
        raise _fail("MEDIAOPS_ENV=production: DATABASE_URL: production runs on a PostgreSQL server", 1)
    asyncio.run(ensure_database(settings.admin_dsn))
    applied = _with_db(settings, apply, owner=True)
    for migration in applied:
        typer.echo(f"applied {migration.version:04d}_{migration.name}")
    typer.echo("schema up to date")


@app.command("temporal-init")
def temporal_init() -> None:
    """Create the Temporal namespace (with the policy's retention) and the search attributes the
    workflows use, on a cluster: a one-shot job before the first worker (safe to run again)."""
    from temporalio.service import RPCError

    from mediaops.temporal import init_namespace
    from workflows import search_attributes

    settings = _settings()
    _production_ready(settings, database=False)
    retention = settings.policy.accountable.history_retention
    try:
        created, added = asyncio.run(init_namespace(settings, retention, search_attributes.ALL))
    except (RPCError, RuntimeError) as exc:
        raise _fail(f"Temporal at {settings.temporal_target} refused or is unreachable: {exc}", 1) from None
    state = "created" if created else "exists"
    names = ", ".join(added) or "none"
    typer.echo(f"namespace {settings.temporal_namespace}: {state}; search attributes added: {names}")


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
    from eventstore.users import list_users

    for user in _with_db(_settings(validate_policy=False), list_users):
        typer.echo(f"{user.id}\t{','.join(sorted(user.roles))}\t{user.display_name}")


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="login id: lower-case letters, digits, . _ -")],
    role: Annotated[list[Role], typer.Option("--role", "-r", help="a role (repeatable)")],
    name: Annotated[str, typer.Option(help="display name")] = "",
) -> None:
    """Create or update a user with the given roles."""
    from eventstore.users import upsert_user

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
    from eventstore.users import issue_token

    try:
        token = _with_db(_settings(validate_policy=False), lambda conn: issue_token(conn, user_id, label))
    except LookupError as exc:
        raise _fail(str(exc), 1) from None
    typer.echo(token)


@events_app.command("seal")
def events_seal(
    out: Annotated[
        Path | None, typer.Option("--out", help="also write the seal as JSON to this file, for an auditor")
    ] = None,
) -> None:
    """Seal the hash chains' heads now (the workers do every R-ACCOUNTABLE.seal_every)."""
    from audit.seals import seal

    sealed = _with_db(_settings(validate_policy=False), seal)
    typer.echo(f"seal {sealed.id}: position {sealed.position}, digest {sealed.digest}")
    if out is not None:
        try:
            out.write_text(sealed.to_json() + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(
                f"seal {sealed.id} is kept in chain_seals, but not in {out}: {exc.strerror}", 1
            ) from None


def _verify_against(against: str) -> None:
    """`events verify --against`: the seal (an id, `latest`, a file) and the chains, every problem named."""
    from audit.seals import Discrepancy, Seal, SealError, get, latest, verify_against

    kept: Seal | None = None
    if against != "latest" and not against.isdigit():
        try:
            kept = Seal.from_json(Path(against).read_text(encoding="utf-8"))
        except OSError as exc:
            raise _fail(f"cannot read the seal file {against}: {exc.strerror}") from None
        except SealError as exc:
            raise _fail(f"{against}: {exc}", 1) from None

    async def check(conn: Any) -> tuple[Seal, list[Discrepancy]]:
        if kept is not None:
            sealed: Seal | None = kept
        else:
            sealed = await (latest(conn) if against == "latest" else get(conn, int(against)))
        if sealed is None:
            raise _fail(f"no seal {against} in chain_seals (`mediaops events seal` takes one)", 1)
        return sealed, await verify_against(conn, sealed)

    try:
        sealed, problems = _with_db(_settings(validate_policy=False), check)
    except SealError as exc:
        raise _fail(str(exc), 1) from None
    for problem in problems:
        typer.echo(f"broken: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(
        f"intact: the store holds the {sealed.events} events in {sealed.streams} streams of seal "
        f"{sealed.id} (position {sealed.position}, digest {sealed.digest}), and every chain"
    )


@events_app.command("verify")
def events_verify(
    stream: Annotated[str | None, typer.Option("--stream", help="check only this stream")] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="SEAL",
            help="also check the store still holds what a seal saw: its id, `latest`, or its JSON file",
        ),
    ] = None,
) -> None:
    """Check every stream's hash chain: exit 0 when intact, 1 naming the first broken link.

    With --against, also every stream, version and position the store no longer holds as the seal saw it.
    """
    from eventstore.verify import verify

    if against is not None:
        if stream is not None:
            raise _fail("--against checks every stream: leave out --stream")
        _verify_against(against)
        return
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


@users_app.command("passwd")
def users_passwd(
    user_id: Annotated[str, typer.Argument(help="the user's id")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from one line of stdin (scripts)")
    ] = False,
) -> None:
    """Set a user's console password (stored as an argon2id hash); their console sessions end."""
    from eventstore.logins import set_password

    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        _with_db(settings, lambda conn: set_password(conn, user_id, password, settings.policy.secrets))
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc), 1) from None
    typer.echo(f"password set for {user_id}; their console sessions were ended")


@users_app.command("revoke")
def users_revoke(user_id: Annotated[str, typer.Argument(help="the user's id")]) -> None:
    """Revoke every API token of a user (a leaked token, someone leaving: R-SECRETS)."""
    from eventstore.users import revoke_tokens

    count = _with_db(_settings(validate_policy=False), lambda conn: revoke_tokens(conn, user_id))
    typer.echo(f"revoked {count} token(s) of {user_id}")


@users_app.command("disable")
def users_disable(user_id: Annotated[str, typer.Argument(help="the user's id")]) -> None:
    """Disable a user: no sign-in, every token revoked; their record and what they did stay."""
    from eventstore.users import disable_user

    if not _with_db(_settings(validate_policy=False), lambda conn: disable_user(conn, user_id)):
        raise _fail(f"no user '{user_id}'", 1)
    typer.echo(f"disabled {user_id}")


def _dev_settings() -> Settings:
    settings = _settings(validate_policy=False)
    if settings.env == "production":
        raise _fail("`mediaops dev` commands are refused when MEDIAOPS_ENV=production", 1)
    return settings


@dev_app.command("token")
def dev_token(role: Annotated[Role, typer.Argument(help="the role whose demo user gets the token")]) -> None:
    """Print a bearer token for ROLE's demo user (e.g. `curl -H "Authorization: Bearer $(...)"`)."""
    from eventstore.users import demo_user_id, ensure_demo_users, issue_token

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
    safe: Annotated[
        bool | None,
        typer.Option(
            "--safe/--plain",
            help="encrypt as in WeChat's safe mode, or not (default: safe when the account has AES keys; "
            "the API refuses plain messages for such an account)",
        ),
    ] = None,
) -> None:
    """Post a user's text message to the running API's callback, signed and addressed as WeChat would."""
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
            "ToUserName": acct.original_id,
            "FromUserName": sender,
            "CreateTime": int(timestamp),
            "MsgType": "text",
            "Content": text,
            "MsgId": msg_id if msg_id is not None else int(time.time() * 1000),
        }
    )
    query = {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if safe is None:
        safe = bool(acct.aes_keys)
    if safe:
        if not acct.aes_keys:
            raise _fail(f"account {account} has no EncodingAESKey for safe mode")
        encrypted = WeChatCipher([acct.aes_keys[0].get_secret_value()], acct.appid).encrypt(message.encode())
        query.update(encrypt_type="aes", msg_signature=signature(token, timestamp, nonce, encrypted))
        message = to_xml({"ToUserName": acct.original_id, "Encrypt": encrypted})
    _tell_the_fake(acct.base_url, acct.appid, sender, text)
    url = f"{settings.api_url}/webhooks/wechat/{account}"
    try:
        response = httpx.post(url, params=query, content=message.encode(), timeout=10)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc} (is `make run` running?)", 1) from None
    typer.echo(f"{response.status_code} {response.text}")


@dev_app.command("dsn")
def dev_dsn(
    admin: Annotated[bool, typer.Option("--admin", help="the schema owner's URL, for migrations")] = False,
) -> None:
    """Print the connection URL of the database in use, as the application role (or its owner)."""
    settings = _dev_settings()
    typer.echo(settings.admin_dsn if admin else settings.dsn)


@keys_app.command("init")
def keys_init() -> None:
    """Create the keys file (MEDIAOPS_KEYS_FILE, default MEDIAOPS_HOME/keys.toml, 0600) if it is missing."""
    from mediaops.keys import ensure_keys_file

    path = _settings(validate_policy=False).effective_keys_file
    typer.echo(f"created {path}" if ensure_keys_file(path) else f"{path} exists; nothing changed")


@keys_app.command("rotate")
def keys_rotate(
    codec: Annotated[bool, typer.Option("--codec", help="a new payload encryption key")] = False,
    commands: Annotated[bool, typer.Option("--commands", help="a new command signing key")] = False,
) -> None:
    """Put a new current key in front; the older ones stay to read what they sealed or signed.

    Restart the workers and the API afterwards, so every process uses the same current key.
    """
    from mediaops.keys import Keys, KeysError, write_keys

    settings = _settings(validate_policy=False)
    if settings.codec_keys is not None or settings.command_keys is not None:
        raise _fail("the keys come from the environment here: rotate them where they are set")
    try:
        keys = settings.keys
    except KeysError as exc:
        raise _fail(str(exc)) from None
    rotated = Keys(
        codec=keys.codec.rotated() if codec else keys.codec,
        commands=keys.commands.rotated() if commands else keys.commands,
    )
    write_keys(settings.effective_keys_file, rotated)
    typer.echo(f"current codec key {rotated.codec.current[0]}, command key {rotated.commands.current[0]}")


@ops_app.command("sign")
def ops_sign(
    workflow_id: Annotated[str, typer.Option("--workflow-id", help="e.g. article-<id>")],
    command: Annotated[str, typer.Option(help='JSON, e.g. {"kind": "review", "version": 1, ...}')],
    token: Annotated[
        str, typer.Option(envvar="MEDIAOPS_TOKEN", help="your API token (mediaops users token YOU)")
    ],
) -> None:
    """Print your command signed for you by the API, to send with `temporal workflow signal --input`."""
    import httpx

    settings = _settings(validate_policy=False)
    try:
        fields = json.loads(command)
    except json.JSONDecodeError as exc:
        raise _fail(f"--command is not JSON: {exc}") from None
    url = f"{settings.api_url}/commands/sign"
    try:
        response = httpx.post(
            url,
            json={"workflow_id": workflow_id, "command": fields},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {type(exc).__name__} (is the API running?)", 1) from None
    if response.status_code != 200:
        raise _fail(f"{response.status_code} {response.text}", 1)
    typer.echo(response.text)


def _moment(option: str, value: str | None) -> datetime | None:
    """An RFC 3339 time given on the command line (None: unbounded); it must carry its time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not an RFC 3339 time, e.g. 2026-01-01T00:00:00+08:00") from None
    if moment.tzinfo is None:
        raise _fail(f"{option} {value!r} has no time zone, e.g. 2026-01-01T00:00:00+08:00 or ...Z")
    return moment


@audit_app.command("replay")
def audit_replay(
    workflow_id: Annotated[
        str | None,
        typer.Option("--workflow-id", help="every run of this workflow: from Temporal, else the archive"),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option("--query", help="a Temporal visibility query, e.g. \"WorkflowType='Article'\""),
    ] = None,
    archive: Annotated[bool, typer.Option("--archive", help="the archived histories of closed runs")] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="with --archive: closed at or after this RFC 3339 time")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="with --archive: closed before this RFC 3339 time")
    ] = None,
) -> None:
    """Replay histories against this code: exit 0 when all replay, 1 when any does not, 2 when none matched.

    Give exactly one of --workflow-id, --query or --archive (every archived run, or those that closed
    from --from up to --to). One line per run: `OK <workflow id> <run id>`, or `NONDETERMINISTIC
    <workflow id> <run id> event <id>: <error>` naming the event where the code took another path
    (`FAILED ...` for any other failure), then a summary. Wrong options also exit 2.
    """
    from temporalio.service import RPCError, RPCStatusCode

    from audit.replay import Replayed, histories_archived, histories_matching, histories_of, replay
    from mediaops.keys import KeysError
    from mediaops.temporal import connect, data_converter

    if (workflow_id is not None) + (query is not None) + archive != 1:
        raise _fail("give exactly one of --workflow-id, --query or --archive")
    if (start is not None or end is not None) and not archive:
        raise _fail("--from and --to go with --archive")
    since, until = _moment("--from", start), _moment("--to", end)
    settings = _settings()
    try:
        converter = data_converter(settings.keys)
    except KeysError as exc:
        raise _fail(str(exc)) from None

    async def replayed(conn: Any) -> list[Replayed]:
        if archive:
            return await replay(histories_archived(conn, since, until), converter=converter)
        try:
            client = await connect(settings)
        except RuntimeError as exc:
            raise _fail(
                f"cannot reach Temporal at {settings.temporal_target} ({exc}); is `make run` running, "
                "or is TEMPORAL_ADDRESS right?",
                1,
            ) from None
        try:
            if workflow_id is not None:
                return await replay(await histories_of(client, conn, workflow_id), converter=converter)
            return await replay(histories_matching(client, query or ""), converter=converter)
        except RPCError as exc:  # a query it cannot parse is the caller's (2), anything else Temporal's (1)
            code = 2 if exc.status == RPCStatusCode.INVALID_ARGUMENT else 1
            raise _fail(f"Temporal refused: {exc.message}", code) from None

    results = asyncio.run(replayed(None)) if query is not None else _with_db(settings, replayed)
    for result in results:
        if result.ok:
            typer.echo(f"OK {result.workflow_id} {result.run_id}")
        elif result.nondeterministic:
            event = "unknown" if result.event_id is None else result.event_id
            typer.echo(f"NONDETERMINISTIC {result.workflow_id} {result.run_id} event {event}: {result.error}")
        else:
            typer.echo(f"FAILED {result.workflow_id} {result.run_id}: {result.error}")
    if not results:
        raise _fail("no workflow history matched")
    failed = sum(not result.ok for result in results)
    typer.echo(f"replayed {len(results)}: {len(results) - failed} OK, {failed} not")
    if failed:
        raise typer.Exit(1)


@audit_app.command("archive")
def audit_archive() -> None:
    """Archive now the histories of the workflows that closed since the workers last did (they do
    it every R-ACCOUNTABLE.archive_every): before an audit of a period that just ended, say."""
    from audit.archive import archive_closed
    from eventstore.db import create_pool
    from mediaops.temporal import connect

    settings = _settings()

    async def run() -> int:
        try:
            client = await connect(settings)
        except RuntimeError as exc:
            raise _fail(f"cannot reach Temporal at {settings.temporal_target} ({exc})", 1) from None
        pool = await create_pool(settings.dsn)
        try:
            return await archive_closed(client, pool)
        finally:
            await pool.close()

    from audit.archive import SweepIncomplete

    try:
        typer.echo(f"archived {asyncio.run(run())} histories")
    except SweepIncomplete as exc:
        raise _fail(str(exc), 1) from None


@audit_app.command("check")
def audit_check(
    start: Annotated[str, typer.Option("--from", help="the period's start (RFC 3339, with its time zone)")],
    end: Annotated[str, typer.Option("--to", help="the period's end, excluded")],
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="judge under this policy.toml instead (what-if: nothing recorded changes)"
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report's JSON here")] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="write the report as an HTML page here")
    ] = None,
    pdf_out: Annotated[
        Path | None, typer.Option("--pdf", help="write the report's summary as a PDF here")
    ] = None,
) -> None:
    """Re-check every rule over the period from the event store: exit 0 with the breaches listed,
    1 when the record itself does not hold (a chain broken, a verdict its facts contradict, an
    archived history and its events apart), naming the stream and position.

    Prints one line per rule id (checked, kept, broken, pending, each breach by stream @ position),
    the rules not checked automatically, the seals of the period and the report's digest: the same
    record, release and policy give the same digest.
    """
    from audit.check import Period
    from audit.report import Judged, make_report, summary, to_html, to_pdf
    from mediaops.keys import KeysError
    from mediaops.temporal import data_converter
    from workflows.shell import policy_digest

    since, until = _moment("--from", start), _moment("--to", end)
    if since is None or until is None or until <= since:
        raise _fail("--to must come after --from")
    since, until = since.astimezone(UTC), until.astimezone(UTC)  # one period, one text, however it was typed
    if until > datetime.now(UTC):
        raise _fail("--to is in the future: a report is of a period that has ended (its record is fixed)")
    settings = _settings()
    try:
        converter = data_converter(settings.keys)
        policy = settings.policy if policy_file is None else load_policy(policy_file)[0]
    except (KeysError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    in_force = settings.policy
    judged = Judged(
        period=Period(start=since, end=until, as_of=until),
        policy=policy,
        policy_digest=policy_digest(policy),
        in_force=policy_digest(policy) == policy_digest(in_force),
    )
    report = _with_db(settings, lambda conn: make_report(conn, judged, converter))
    for line in summary(report):
        typer.echo(line)
    if json_out is not None:
        json_out.write_bytes(report.canonical())
    if html_out is not None:
        html_out.write_text(to_html(report), encoding="utf-8")
    if pdf_out is not None:
        pdf_out.write_bytes(to_pdf(report))
    if not report.integrity.ok:
        raise typer.Exit(1)


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
