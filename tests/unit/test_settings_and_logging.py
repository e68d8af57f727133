import base64
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from pydantic import SecretStr

from activities.platforms.accounts import Accounts
from mediaops.keys import Keys, write_keys
from mediaops.logging import REDACTED, configure_logging, redact, register_secret, scrub
from mediaops.settings import Settings, SettingsError, load_settings


def test_defaults_use_the_embedded_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "MEDIAOPS_PG_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIAOPS_HOME", str(tmp_path))  # no password file yet: the URL carries none
    settings = load_settings()
    assert settings.embedded_postgres
    assert settings.embedded_temporal
    assert settings.dsn == "postgresql://mediaops_app@127.0.0.1:55432/mediaops"
    assert settings.temporal_target == "127.0.0.1:7233"


def test_external_services_are_used_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.internal:5432/ops")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    settings = load_settings()
    assert not settings.embedded_postgres
    assert not settings.embedded_temporal
    assert settings.dsn == "postgresql://u@db.internal:5432/ops"
    assert settings.temporal_target == "temporal.internal:7233"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("TEMPORAL_ADDRESS", "no-port"),
        ("MEDIAOPS_API_PORT", "eighty"),
        ("MEDIAOPS_ENV", "staging"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_production_logs_json() -> None:
    assert Settings(env="production").effective_log_format == "json"
    assert Settings(env="development").effective_log_format == "console"


def test_redaction_masks_secret_keys_and_values_at_any_depth() -> None:
    event = {
        "event": "calling wechat with Bearer abc.def and mo_" + "x" * 43,
        "appsecret": "s3cr3t",
        "nested": {"access_token": "t", "items": [{"password": "p"}, "postgresql://ops:hunter2@db/ops"]},
        "harmless": "ok",
    }
    out = redact(event)
    assert out["appsecret"] == REDACTED
    assert out["nested"]["access_token"] == REDACTED
    assert out["nested"]["items"][0]["password"] == REDACTED
    assert out["nested"]["items"][1] == f"postgresql://ops:{REDACTED}@db/ops"
    assert "abc.def" not in out["event"]
    assert "xxxx" not in out["event"]
    assert out["harmless"] == "ok"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("POST /cgi-bin/draft/add?access_token=ACCESS.tok-en_1 answered 413", "ACCESS.tok-en_1"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", "693a91f6-7xxx"),
        ("grant_type=client_credential&appid=wx1&secret=S3CRETvalue", "S3CRETvalue"),
        ("/sns/oauth2?appid=wx1&appsecret=APPSECRET99&code=1", "APPSECRET99"),
        ("login with password=hunter2hunter", "hunter2hunter"),
        ('{"access_token": "JSONTOKEN42", "expires_in": 7200}', "JSONTOKEN42"),
        ("{'app_token': 'REPRTOKEN42'}", "REPRTOKEN42"),
        ("Authorization: Basic " + base64.b64encode(b"mediaops:app pass").decode(), "bWVkaWFvcHM6"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi"),
        ("https://user:pa55w0rd@proxy.internal:3128/", "pa55w0rd"),
    ],
)
def test_credentials_are_masked_where_they_travel(text: str, hidden: str) -> None:
    scrubbed = scrub(text)
    assert hidden not in scrubbed
    assert REDACTED in scrubbed


def test_ordinary_text_is_left_alone() -> None:
    text = "Basic checks passed; key points: the title is too long (code 45003), see /cgi-bin/draft/add"
    assert scrub(text) == text


def test_a_registered_secret_is_masked_exactly_wherever_it_appears() -> None:
    value = "s+" + secrets.token_urlsafe(12) + "/=="  # escaping in a URL changes it
    register_secret(SecretStr(value))
    in_a_url = str(httpx.URL("https://api.example.com/p", params={"v": value}))
    escaped = in_a_url.partition("v=")[2]
    assert escaped != value
    for shown in (f"the value {value} alone", f"in a URL no pattern knows: {in_a_url}"):
        scrubbed = scrub(shown)
        assert value not in scrubbed
        assert escaped not in scrubbed
        assert REDACTED in scrubbed


def test_values_too_short_to_tell_apart_from_text_are_not_registered() -> None:
    register_secret("ab")
    assert scrub("a tab, a cab") == "a tab, a cab"


def test_the_accounts_loader_registers_every_secret_it_loads(tmp_path: Path) -> None:
    password, token = secrets.token_hex(10), secrets.token_hex(10)
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        "\n".join(
            [
                "[[account]]",
                'platform = "website"',
                'name = "site"',
                'base_url = "https://www.example.com"',
                'username = "mediaops"',
                f'password = "{password}"',
                "[[account]]",
                'platform = "baijiahao"',
                'name = "bjh"',
                'base_url = "https://baijiahao.baidu.com"',
                'appid = "bjh1"',
                f'token = "{token}"',
            ]
        )
    )
    Accounts.load(accounts_file)
    assert scrub(f"refused {password} and {token}") == f"refused {REDACTED} and {REDACTED}"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.configure(**saved[2])


@pytest.mark.usefixtures("logging_restored")
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_exception_text_and_tracebacks_are_redacted(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    robot_key, loaded = secrets.token_hex(12), secrets.token_hex(12)
    webhook = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={robot_key}"
    configure_logging(Settings(log_format=log_format, notify_webhook=webhook))
    register_secret(loaded)

    def fail() -> None:
        raise RuntimeError(f"GET /cgi-bin/user?access_token=TOKEN{loaded} failed; secret {loaded}")

    try:
        fail()
    except RuntimeError as exc:
        logging.getLogger("temporalio.activity").warning("Completing activity as failed", exc_info=True)
        structlog.get_logger("ours").exception("publish failed")
        structlog.get_logger("ours").warning("publish failed again", error=exc)
    structlog.get_logger("ours").info(f"the robot key alone: {robot_key}")
    err = capsys.readouterr().err
    assert err.count("Traceback (most recent call last)") == 2, err
    assert "in fail" in err  # the traceback is there, only its secrets are not
    for secret in (loaded, robot_key):
        assert secret not in err
    assert "the robot key alone: [redacted]" in err
    if log_format == "json":
        lines = [json.loads(line) for line in err.splitlines()]
        assert {line["event"] for line in lines} >= {"Completing activity as failed", "publish failed"}


def test_the_keys_in_the_keys_file_are_masked_once_logging_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MEDIAOPS_CODEC_KEYS")
    monkeypatch.delenv("MEDIAOPS_COMMAND_KEYS")
    keys = Keys.generate()
    write_keys(tmp_path / "keys.toml", keys)
    configure_logging(Settings(keys_file=tmp_path / "keys.toml"))
    for ring in (keys.codec, keys.commands):
        spelled = ring.spelled()[0].partition(":")[2]
        assert spelled not in scrub(f"a key {spelled} in a message")
