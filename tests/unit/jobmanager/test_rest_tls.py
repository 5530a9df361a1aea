"""security.ssl.rest.*: what the REST server is given, what a REST client trusts."""

from __future__ import annotations

import ssl

import pytest
import trustme

from strom.config import Configuration
from strom.errors import ConfigError
from strom.io.client_config import rest_verify
from strom.jobmanager.rest import rest_tls


def test_tls_off_gives_uvicorn_nothing_and_clients_the_system_cas():
    config = Configuration(env={})
    assert rest_tls(config) == {}
    assert rest_verify(config) is True


def test_tls_on_names_the_files_and_the_key_password(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x"), key.write_text("x")
    config = Configuration(env={"STROM_SECURITY_SSL_REST_ENABLED": "true",
                                "STROM_SECURITY_SSL_REST_CERT_FILE": str(cert),
                                "STROM_SECURITY_SSL_REST_KEY_FILE": str(key),
                                "STROM_SECURITY_SSL_REST_KEY_PASSWORD": "pw"})
    assert rest_tls(config) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key), "ssl_keyfile_password": "pw"}


@pytest.mark.parametrize("missing", ["unset", "absent"])
def test_tls_on_without_a_key_file_is_a_config_error_naming_the_setting(tmp_path, missing):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    env = {"STROM_SECURITY_SSL_REST_ENABLED": "true", "STROM_SECURITY_SSL_REST_CERT_FILE": str(cert)}
    if missing == "absent":
        env["STROM_SECURITY_SSL_REST_KEY_FILE"] = str(tmp_path / "nowhere.pem")
    with pytest.raises(ConfigError, match=r"security\.ssl\.rest\.key-file .*STROM_SECURITY_SSL_REST_KEY_FILE"):
        rest_tls(Configuration(env=env))


def test_a_client_trusts_exactly_the_configured_ca(tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    verify = rest_verify(Configuration(env={"STROM_SECURITY_SSL_REST_CA_FILE": str(tmp_path / "ca.pem")}))
    assert isinstance(verify, ssl.SSLContext) and verify.check_hostname
    assert verify.verify_mode == ssl.CERT_REQUIRED
    assert len(verify.get_ca_certs()) == 1  # that CA alone, not the system's
