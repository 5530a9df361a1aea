"""docker-compose.yml's secrets (strom.stack.compose): what ops/compose-secrets makes is what the
compose file mounts, private, and the certificate names the compose hosts."""

import ipaddress
import os
import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from strom.stack import compose, secure
from strom.stack.compose import SECRET_SETS, ComposeSetupError, SecretSet
from strom.stack.secure import PASSWORDS, SecureFiles, write_private

COMPOSE_FILE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="keytool (a JDK) is not installed")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """setup() run once (keytool: ~5 s): (its SecureFiles, the .env path)."""
    root = tmp_path_factory.mktemp("compose")
    env_file = root / ".env"
    return compose.setup(root / ".compose", env_file), env_file


def placeholder_files(root: Path) -> SecureFiles:
    files = SecureFiles(root)
    files.dir.mkdir(parents=True)
    for name in PASSWORDS:
        write_private(files.password_file(name), f"pw-{name}\n")
    return files


def compose_paths(text: str, secret_set: SecretSet) -> set[str]:
    """The file names under a set's mount that docker-compose.yml's text names."""
    return set(re.findall(re.escape(secret_set.mount) + r"/([\w.-]+)", text))


@needs_keytool
def test_setup_makes_every_file_compose_mounts_private(made, tmp_path):
    files, env_file = made
    assert files.dir.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in files.dir.iterdir()} == {
        p.name: 0o600 for p in files.dir.iterdir()}
    text = COMPOSE_FILE.read_text()
    assert f"./{compose.COMPOSE_DIR}/secure:{compose.SOURCE_MOUNT}:ro" in text
    # the `secrets` service copies each set into its volume, for one uid (here: ours)
    target = tmp_path / "volumes"
    for name in SECRET_SETS:
        (target / name).mkdir(parents=True)
        (target / name / "stale").write_text("from an older setup")
    compose.install(files.dir, target, {name: os.getuid() for name in SECRET_SETS})
    for name, secret_set in SECRET_SETS.items():
        volume = target / name
        assert f"{secret_set.volume}:{compose.VOLUMES_MOUNT}/{name}" in text
        assert f"{secret_set.volume}:{secret_set.mount}:ro" in text, f"compose mounts no {secret_set.volume}"
        assert volume.stat().st_mode & 0o777 == 0o700
        assert {p.name: p.stat().st_mode & 0o777 for p in volume.iterdir()} == dict.fromkeys(secret_set.files, 0o600)
        assert all(p.stat().st_uid == os.getuid() for p in volume.iterdir())
        # every path of this volume the compose file names (commands, health checks, env) is there
        named = compose_paths(text, secret_set)
        assert named <= set(secret_set.files), f"{name}: compose names {named - set(secret_set.files)}"
        for file in secret_set.files:
            assert (volume / file).read_bytes() == (files.dir / file).read_bytes()
    # what the Strom services and the rendered configs name lives in their volumes
    for value in compose.strom_env().values():
        if value.startswith(SECRET_SETS["strom"].mount + "/"):
            assert (target / "strom" / Path(value).name).is_file(), value
    kafka_properties = (target / "kafka" / compose.KAFKA_PROPERTIES).read_text()
    for location in re.findall(r"^ssl\.\w+\.location=(.*)$", kafka_properties, re.MULTILINE):
        assert (target / "kafka" / Path(location).name).is_file(), location
    redis_conf = (target / "redis" / compose.REDIS_CONF).read_text()
    assert f"requirepass {files.password('redis')}" in redis_conf
    for location in re.findall(r"^tls-[\w-]+-file (.*)$", redis_conf, re.MULTILINE):
        assert (target / "redis" / Path(location).name).is_file(), location
    assert (target / "kafka" / compose.KAFKA_FORMAT_ARGS).read_text().count("--add-scram") == 2
    # .env: the three tokens, private
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert set(compose.read_env_file(env_file)) == set(compose.ENV_SECRETS)


@needs_keytool
def test_certificate_names_the_compose_hosts_and_is_signed_by_the_ca(made):
    files, _ = made
    ca = x509.load_pem_x509_certificate(files.ca_pem.read_bytes())
    server = x509.load_pem_x509_certificates(files.server_chain_pem.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"kafka", "redis", "zookeeper", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)


@needs_keytool
def test_setup_again_keeps_the_secrets(made):
    files, env_file = made
    before = {name: files.password(name) for name in PASSWORDS}
    env_before = compose.read_env_file(env_file)
    key = files.server_key_pem.read_bytes()
    compose.setup(files.dir.parent, env_file)
    assert {name: files.password(name) for name in PASSWORDS} == before
    assert compose.read_env_file(env_file) == env_before
    assert files.server_key_pem.read_bytes() == key


def test_env_file_gets_missing_tokens_only(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("STROM_REST_TOKEN=mine\nOTHER=1\nGRAFANA_ADMIN_PASSWORD=")  # no final newline
    assert compose.ensure_env_file(env_file) == ["STROM_CLUSTER_SECRET", "GRAFANA_ADMIN_PASSWORD"]
    values = compose.read_env_file(env_file)
    assert values["STROM_REST_TOKEN"] == "mine" and values["OTHER"] == "1"
    assert len(values["STROM_CLUSTER_SECRET"]) >= 43 and len(values["GRAFANA_ADMIN_PASSWORD"]) >= 43
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert compose.ensure_env_file(env_file) == []
    assert compose.read_env_file(env_file) == values


def test_local_stack_certificate_names_are_unchanged(tmp_path):
    assert SecureFiles(tmp_path).san == secure.SAN == "SAN=ip:127.0.0.1,dns:localhost"
    assert compose.compose_files(tmp_path).san == secure.SAN + ",dns:kafka,dns:redis,dns:zookeeper"


def test_rendered_configs_are_the_local_secure_stacks_with_compose_addresses(tmp_path):
    files = placeholder_files(tmp_path)
    local = dict(line.split("=", 1) for line in secure.kafka_listener_properties(files, 9092, 9093).splitlines()
                 if "=" in line and not line.startswith("#"))
    ours = dict(line.split("=", 1) for line in compose.kafka_server_properties(files).splitlines()
                if "=" in line and not line.startswith("#"))
    moved = {"listeners", "advertised.listeners", "ssl.keystore.location", "ssl.truststore.location"}
    assert {k: v for k, v in local.items() if k not in moved} == {k: ours[k] for k in local if k not in moved}
    assert ours["listeners"] == "SASL_SSL://:9092,CONTROLLER://127.0.0.1:9093"
    assert ours["advertised.listeners"] == "SASL_SSL://kafka:9092"
    assert "PLAINTEXT://" not in ours["listeners"].replace("SASL_PLAINTEXT://", "")
    assert ours["ssl.keystore.location"] == "/etc/kafka/secrets/broker.p12"
    conf = dict(line.split(" ", 1) for line in compose.redis_server_conf(files).splitlines()
                if not line.startswith("#"))
    assert conf["port"] == "0" and conf["tls-port"] == "6379" and conf["requirepass"] == "pw-redis"
    assert conf["tls-cert-file"] == "/etc/redis/secure/server-chain.pem" and conf["bind"] == "0.0.0.0"
    client = compose.kafka_client_properties(files)
    assert 'username="admin" password="pw-kafka-admin"' in client and "security.protocol=SASL_SSL" in client


def test_strom_env_is_the_local_client_env_with_compose_addresses():
    env = compose.strom_env()
    local = secure.client_env(SecureFiles(Path("/etc/strom")), {}, 6379)
    assert env["STROM_REDIS_URL"] == "rediss://redis:6379/0"
    assert env["STROM_KAFKA_BOOTSTRAP"] == "kafka:9092" and env["STROM_ZOOKEEPER"] == "zookeeper:2181"
    assert {k: v for k, v in env.items() if k not in ("STROM_REDIS_URL", "STROM_KAFKA_BOOTSTRAP", "STROM_ZOOKEEPER")} \
        == {k: v for k, v in local.items() if k != "STROM_REDIS_URL" and not k.startswith("STROM_SCHEMA_REGISTRY_")}
    text = COMPOSE_FILE.read_text()
    for name, value in env.items():
        assert f"{name}: {value}\n" in text, f"docker-compose.yml lacks {name}: {value}"


def test_install_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ComposeSetupError, match="unknown secret set"):
        compose.install(tmp_path, tmp_path, {"nosuch": 1})
    with pytest.raises(ComposeSetupError, match="not mounted"):
        compose.install(tmp_path, tmp_path / "volumes", {"redis": 999})
    (tmp_path / "volumes" / "redis").mkdir(parents=True)
    with pytest.raises(ComposeSetupError, match="run ops/compose-secrets"):
        compose.install(tmp_path, tmp_path / "volumes", {"redis": 999})


def test_check_finds_literal_secrets_and_passwords_on_command_lines(tmp_path):
    raw = {"services": {"x": {"environment": {"SOME_PASSWORD": "hunter2", "SOME_PASSWORD_FILE": "/f",
                                              "STROM_REST_TOKEN": "${STROM_REST_TOKEN}"},
                              "command": ["redis-server", "--requirepass", "hunter2"]}}}
    errors = compose.check_compose(raw, {"services": {}}, tmp_path)
    assert any("SOME_PASSWORD is literal" in e for e in errors)
    assert not any("SOME_PASSWORD_FILE" in e or "STROM_REST_TOKEN" in e for e in errors)
    assert any("a password on a command line" in e for e in errors)
