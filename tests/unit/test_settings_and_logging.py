import pytest

from mediaops.logging import REDACTED, redact
from mediaops.settings import Settings, SettingsError, load_settings


def test_defaults_use_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "MEDIAOPS_PG_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.embedded_postgres
    assert settings.embedded_temporal
    assert settings.dsn == "postgresql://mediaops@127.0.0.1:55432/mediaops"
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
