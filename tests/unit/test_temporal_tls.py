"""mediaops/temporal.py `tls_config`: what a worker or an API presents to a Temporal cluster."""

from pathlib import Path

import pytest

from mediaops.settings import Settings, SettingsError
from mediaops.temporal import client_certificate_expiry, tls_config
from tests.tls_support import client_certificate


def settings(**values: object) -> Settings:
    return Settings(codec_keys="c1:" + "A" * 43, command_keys="s1:" + "A" * 43, **values)  # type: ignore[arg-type]


def test_plain_grpc_without_any_tls_setting() -> None:
    assert tls_config(settings()) is None


def test_mtls_presents_the_files_it_was_given(tmp_path: Path) -> None:
    cert, key = client_certificate(tmp_path)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert.read_bytes())
    config = tls_config(
        settings(
            temporal_tls_cert=cert,
            temporal_tls_key=key,
            temporal_tls_ca=ca,
            temporal_tls_server_name="temporal",
        )
    )
    assert config is not None
    assert config.client_cert == cert.read_bytes()
    assert config.client_private_key == key.read_bytes()
    assert config.server_root_ca_cert == ca.read_bytes()
    assert config.domain == "temporal"
    expiry = client_certificate_expiry(settings(temporal_tls_cert=cert, temporal_tls_key=key))
    assert expiry is not None


@pytest.mark.parametrize("alone", ["temporal_api_key", "temporal_tls_server_name"])
def test_an_api_key_or_a_server_name_alone_still_means_tls(alone: str) -> None:
    config = tls_config(settings(**{alone: "x" * 12}))
    assert config is not None
    assert config.client_cert is None


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    cert, key = client_certificate(tmp_path)
    with pytest.raises(SettingsError, match=r"MEDIAOPS_TEMPORAL_TLS_KEY: .*missing\.key cannot be read"):
        tls_config(settings(temporal_tls_cert=cert, temporal_tls_key=tmp_path / "missing.key"))
    key.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(SettingsError, match="MEDIAOPS_TEMPORAL_TLS_CERT: not a PEM certificate"):
        client_certificate_expiry(settings(temporal_tls_cert=key, temporal_tls_key=key))
