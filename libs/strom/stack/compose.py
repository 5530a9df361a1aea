"""``docker-compose.yml``'s secure stack: the secrets it mounts, how they reach each container,
and the offline check of its shape (``ops/validate-compose``).

The compose stack is ``ops/stack up --secure`` (:mod:`strom.stack.secure`) in containers: Kafka
SASL_SSL with SCRAM-SHA-512 (users made at storage format time) and the ``StandardAuthorizer``,
Redis TLS-only with ``requirepass``, ZooKeeper with enforced authentication
(:data:`~strom.stack.secure.ZOO_CFG_SECURE`), and every Strom service with the client settings of
:func:`~strom.stack.secure.client_env`. Three steps:

1. :func:`setup` (``ops/compose-secrets``, on the host): :class:`~strom.stack.secure.SecureFiles`
   under ``.compose/secure`` (passwords, keytool's CA and server certificate, also for the
   compose host names), the servers' config files rendered from the local stack's templates with
   the compose network's addresses and container paths, and the tokens of ``.env``. Every file
   0600, the directory 0700, nothing printed.
2. :func:`install` (compose service ``secrets``, the strom image as root): copies each
   :data:`SECRET_SETS` entry into its own named volume, owned by the uid its container runs as,
   0600: a container sees only its own secrets, whatever uid the host files have.
3. :func:`secure_init` (compose service ``secure-init``): locks ZooKeeper's ``/`` and ``/strom``
   and grants Strom's Kafka ACLs (the local stack's :func:`~strom.stack.secure.lock_zookeeper`
   and :func:`~strom.stack.secure.grant_acls`), before any Strom service starts.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from dotenv import dotenv_values
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from strom.config import (
    ClusterOptions,
    Configuration,
    KafkaOptions,
    RedisOptions,
    StackOptions,
    ZooKeeperOptions,
)
from strom.stack import secure
from strom.stack.components import KAFKA_SERVER_PROPERTIES, Redis
from strom.stack.secure import SecureFiles, write_private

COMPOSE_HOSTS = ("kafka", "redis", "zookeeper")  # the certificate's names besides 127.0.0.1, localhost
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093  # on the container's 127.0.0.1 only, as in the local stack
REDIS_PORT = 6379
ZOOKEEPER_PORT = 2181
KAFKA_DATA = "/var/lib/kafka/data"
KAFKA_CLUSTER_ID = "c3Ryb20tY2x1c3Rlci0wMQ"  # fixed, so the volume and the config always agree
COMPOSE_DIR = ".compose"  # beside docker-compose.yml (git-ignored); the secrets in COMPOSE_DIR/secure
SOURCE_MOUNT = "/run/strom-secrets"  # where the `secrets` service sees COMPOSE_DIR/secure (read-only)
VOLUMES_MOUNT = "/run/strom-volumes"  # where it mounts every set's volume: <VOLUMES_MOUNT>/<set name>
ENV_SECRETS = ("STROM_REST_TOKEN", "STROM_CLUSTER_SECRET", "GRAFANA_ADMIN_PASSWORD")  # .env: 32 random bytes each

# Files that setup() writes beside SecureFiles' own (names in COMPOSE_DIR/secure and in the volumes).
KAFKA_PROPERTIES = "kafka-server.properties"
KAFKA_CLIENT_PROPERTIES = "kafka-client.properties"  # the broker's health check: the admin user
KAFKA_FORMAT_ARGS = "kafka-format.args"  # SecureFiles.scram_format_argfile's name
REDIS_CONF = "redis.conf"
ZOOKEEPER_JAAS = "zookeeper-jaas.conf"  # secure.zookeeper_jaas's name


@dataclass(frozen=True)
class SecretSet:
    """The secrets one kind of container gets: a named volume of ``files`` (names in the setup
    directory), mounted read-only at ``mount``."""

    volume: str
    mount: str
    files: tuple[str, ...]

    def path(self, name: str) -> str:
        """The container path of one of :attr:`files`."""
        return f"{self.mount}/{name}"


STROM_SECRETS_ROOT = "/etc/strom"  # SecureFiles(STROM_SECRETS_ROOT).dir is the strom set's mount
SECRET_SETS: dict[str, SecretSet] = {
    "kafka": SecretSet("kafka-secrets", "/etc/kafka/secrets", (
        KAFKA_PROPERTIES, KAFKA_FORMAT_ARGS, KAFKA_CLIENT_PROPERTIES, "broker.p12", "truststore.p12")),
    "redis": SecretSet("redis-secrets", "/etc/redis/secure", (
        REDIS_CONF, "redis.password", "server-chain.pem", "server-key.pem", "ca.pem")),
    "zookeeper": SecretSet("zookeeper-secrets", "/etc/zookeeper/secure", (ZOOKEEPER_JAAS,)),
    # Every Strom service: what strom_env() names (its user's passwords, the CA).
    "strom": SecretSet("strom-secrets", f"{STROM_SECRETS_ROOT}/secure", (
        "kafka-strom.password", "redis.password", "zookeeper.password", "ca.pem")),
    # secure-init only: the broker's super user, to grant Strom's ACLs.
    "kafka-admin": SecretSet("kafka-admin-secrets", "/etc/strom/kafka-admin", ("kafka-admin.password",)),
}
#: The compose services that consume each set (the `secrets` service chowns a set to their uid).
SET_CONSUMERS: dict[str, tuple[str, ...]] = {
    "kafka": ("kafka",), "redis": ("redis",), "zookeeper": ("zookeeper",),
    "strom": ("secure-init", "jobmanager", "resourcemanager", "taskmanager-1", "taskmanager-2"),
    "kafka-admin": ("secure-init",),
}


class ComposeSetupError(Exception):
    """The compose secrets cannot be made or installed; the message says what."""


def compose_files(compose_dir: Path) -> SecureFiles:
    """The :class:`SecureFiles` of the compose stack under ``compose_dir`` (its ``secure``
    subdirectory), with a certificate for :data:`COMPOSE_HOSTS` too."""
    return SecureFiles(compose_dir, hosts=COMPOSE_HOSTS)


def override_lines(text: str, values: Mapping[str, str], separator: str, header: str) -> str:
    """``text`` (a ``key<separator>value`` config: server.properties, redis.conf) with the values
    of the keys in ``values`` replaced, its comments replaced by ``header``. Raises
    :class:`ComposeSetupError` for a key of ``values`` that ``text`` lacks (the template drifted).

    >>> override_lines("# old\\na=1\\nb=2\\n", {"b": "3"}, "=", "# new")
    '# new\\na=1\\nb=3\\n'
    """
    lines, missing = [header], set(values)
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = line.split(separator, 1)[0]
        if key in values:
            line = f"{key}{separator}{values[key]}"
            missing.discard(key)
        lines.append(line)
    if missing:
        raise ComposeSetupError(f"the local stack's config has no {sorted(missing)} any more")
    return "\n".join(lines) + "\n"


def kafka_server_properties(files: SecureFiles) -> str:
    """The broker's server.properties: the local secure stack's (``KAFKA_SERVER_PROPERTIES`` with
    :func:`~strom.stack.secure.kafka_listener_properties`), listening on all of the container's
    interfaces, advertised as ``kafka``, with the keystores at their container paths. Holds the
    keystore and admin passwords (the file is 0600)."""
    kafka = SECRET_SETS["kafka"]
    local = KAFKA_SERVER_PROPERTIES.format(
        listeners=secure.kafka_listener_properties(files, KAFKA_PORT, KAFKA_CONTROLLER_PORT),
        controller_port=KAFKA_CONTROLLER_PORT, data=KAFKA_DATA)
    return override_lines(local, {
        "listeners": f"SASL_SSL://:{KAFKA_PORT},CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
        "advertised.listeners": f"SASL_SSL://kafka:{KAFKA_PORT}",
        "ssl.keystore.location": kafka.path(files.keystore.name),
        "ssl.truststore.location": kafka.path(files.truststore.name),
    }, "=", "# Generated by ops/compose-secrets from ops/stack up --secure's config: SASL_SSL (SCRAM-SHA-512).")


def kafka_client_properties(files: SecureFiles) -> str:
    """Java client config of the broker's user, for the kafka container's health check."""
    admin, store = files.password("kafka-admin"), files.password("keystore")
    return f"""\
# Generated by ops/compose-secrets: the broker's own user, for kafka's health check.
security.protocol=SASL_SSL
sasl.mechanism={secure.SCRAM_MECHANISM}
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
username="{secure.BROKER_USER}" password="{admin}";
ssl.truststore.type=PKCS12
ssl.truststore.location={SECRET_SETS["kafka"].path(files.truststore.name)}
ssl.truststore.password={store}
"""


def redis_server_conf(files: SecureFiles) -> str:
    """redis.conf: the local secure stack's (:func:`~strom.stack.secure.redis_conf`: TLS only,
    ``requirepass``, the same persistence) bound to all interfaces, logging to stdout, with the
    certificate's files at their container paths."""
    redis = SECRET_SETS["redis"]
    local = secure.redis_conf(files, REDIS_PORT, Path("/data"), Path("/dev/stdout"), Redis.PERSISTENCE)
    return override_lines(local, {
        "bind": "0.0.0.0", "logfile": '""', "dir": "/data",
        "tls-cert-file": redis.path(files.server_chain_pem.name),
        "tls-key-file": redis.path(files.server_key_pem.name),
        "tls-ca-cert-file": redis.path(files.ca_pem.name),
    }, " ", "# Generated by ops/compose-secrets from ops/stack up --secure's config: TLS only, requirepass.")


def zookeeper_settings() -> dict[str, str]:
    """The zoo.cfg settings of the secure ZooKeeper (:data:`~strom.stack.secure.ZOO_CFG_SECURE`),
    which compose's ``ZOO_CFG_EXTRA`` must hold."""
    return dict(line.split("=", 1) for line in secure.ZOO_CFG_SECURE.splitlines()
                if line.strip() and not line.startswith("#"))


def strom_env() -> dict[str, str]:
    """The STROM_* client settings of every Strom container: :func:`~strom.stack.secure.client_env`
    of the local secure stack with the compose network's addresses and the strom set's paths
    (the schema registry's settings left out: compose runs none)."""
    files = SecureFiles(Path(STROM_SECRETS_ROOT))
    assert str(files.dir) == SECRET_SETS["strom"].mount
    plain = {KafkaOptions.BOOTSTRAP.env_var: f"kafka:{KAFKA_PORT}",
             ZooKeeperOptions.QUORUM.env_var: f"zookeeper:{ZOOKEEPER_PORT}"}
    env = secure.client_env(files, plain, REDIS_PORT)
    env[RedisOptions.URL.env_var] = f"rediss://redis:{REDIS_PORT}/0"
    return {name: value for name, value in env.items() if not name.startswith("STROM_SCHEMA_REGISTRY_")}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a compose ``.env`` file (python-dotenv's reading of it); {} if none."""
    if not path.is_file():
        return {}
    return {name: value or "" for name, value in dotenv_values(path).items()}


def ensure_env_file(path: Path, names: tuple[str, ...] = ENV_SECRETS) -> list[str]:
    """Append ``NAME=<32 random bytes, URL-safe>`` to the compose ``.env`` file for each of
    ``names`` it lacks or leaves empty (existing values are never changed); the file ends 0600.
    Returns the names added."""
    existing = read_env_file(path)
    added = [name for name in names if not existing.get(name)]
    text = path.read_text() if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{name}={secrets.token_urlsafe(32)}\n" for name in added)
    write_private(path, text)
    return added


def setup(compose_dir: Path, env_file: Path) -> SecureFiles:
    """Make (or complete) everything ``docker-compose.yml`` reads from the host: the secrets of
    :func:`compose_files` (kept once made), the config files of :data:`SECRET_SETS` (rendered anew
    each time), and the tokens of ``env_file``. Raises
    :class:`~strom.stack.secure.SecureSetupError` (keytool failed) or :class:`ComposeSetupError`."""
    compose_dir.mkdir(parents=True, exist_ok=True)
    files = compose_files(compose_dir)
    files.ensure()
    write_private(files.dir / KAFKA_PROPERTIES, kafka_server_properties(files))
    write_private(files.dir / KAFKA_CLIENT_PROPERTIES, kafka_client_properties(files))
    files.scram_format_argfile(["kafka.tools.StorageTool", "format", "-t", KAFKA_CLUSTER_ID,
                                "-c", SECRET_SETS["kafka"].path(KAFKA_PROPERTIES), "--ignore-formatted"])
    write_private(files.dir / REDIS_CONF, redis_server_conf(files))
    secure.zookeeper_jaas(files)
    missing = sorted({name for s in SECRET_SETS.values() for name in s.files if not (files.dir / name).is_file()})
    if missing:
        raise ComposeSetupError(f"setup made no {missing} in {files.dir}")
    ensure_env_file(env_file)
    return files


def install(source: Path, target: Path, owners: Mapping[str, int]) -> None:
    """Copy each set of ``owners`` (a name of :data:`SECRET_SETS`: the uid its containers run
    as) from ``source`` into ``target/<name>`` (its volume): files 0600 and the directory 0700,
    owned by that uid; files no longer in the set are removed. Raises :class:`ComposeSetupError`."""
    for name, uid in owners.items():
        if name not in SECRET_SETS:
            raise ComposeSetupError(f"unknown secret set {name!r} (known: {', '.join(SECRET_SETS)})")
        volume, wanted = target / name, SECRET_SETS[name].files
        if not volume.is_dir():
            raise ComposeSetupError(f"{volume} is not mounted (the volume {SECRET_SETS[name].volume})")
        absent = [f for f in wanted if not (source / f).is_file()]
        if absent:
            raise ComposeSetupError(f"{source} lacks {absent}: run ops/compose-secrets first")
        for stale in volume.iterdir():
            if stale.name not in wanted:
                stale.unlink()
        for file in wanted:
            path = volume / file
            path.unlink(missing_ok=True)  # a new inode: never a moment readable by the old owner
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out, (source / file).open("rb") as src:
                shutil.copyfileobj(src, out)
            os.chown(path, uid, -1)
        os.chown(volume, uid, -1)
        volume.chmod(0o700)


def secure_init(config: Configuration, admin_password_file: str, timeout_s: float) -> None:
    """Lock ZooKeeper (:func:`~strom.stack.secure.lock_zookeeper`) and grant Strom's Kafka ACLs
    as the broker's user (:func:`~strom.stack.secure.grant_acls`), with the client settings of
    ``config`` (:func:`strom_env`); each retried until ``timeout_s`` (seconds) has passed.
    Raises :class:`~strom.stack.secure.SecureSetupError`."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException
    from kazoo.handlers.threading import KazooTimeoutError

    from strom.coordination.security import zookeeper_client_kwargs
    from strom.io.client_config import kafka_client_config

    def lock() -> None:
        client = KazooClient(hosts=config.get(ZooKeeperOptions.QUORUM), timeout=10.0,
                             **zookeeper_client_kwargs(config))
        try:
            client.start(timeout=10.0)
            secure.lock_zookeeper(client, config)
        except (KazooTimeoutError, KazooException) as exc:
            raise secure.SecureSetupError(f"cannot set the ACLs of / and /strom in ZooKeeper: {exc!r}") from exc
        finally:
            client.stop()
            client.close()

    admin = config.with_overrides({KafkaOptions.SASL_USERNAME.key: secure.BROKER_USER,
                                   KafkaOptions.SASL_PASSWORD_FILE.key: admin_password_file})
    admin_config = kafka_client_config(config.get(KafkaOptions.BOOTSTRAP), {}, config=admin)
    # the servers may still be starting: every 2 s for up to timeout_s, then the last error
    retrying = Retrying(retry=retry_if_exception_type(secure.SecureSetupError), wait=wait_fixed(2.0),
                        stop=stop_after_delay(timeout_s), reraise=True,
                        before_sleep=lambda state: print(f"secure-init: {state.outcome and state.outcome.exception()}; "
                                                         "retrying", file=sys.stderr))
    retrying(lock)
    retrying(secure.grant_acls, admin_config, config.get(StackOptions.SECURE_DATA_TOPICS), 10.0)


# --- the offline check of docker-compose.yml (ops/validate-compose) ------------------------------

def _parse_properties(text: str, separator: str) -> dict[str, str]:
    return dict(line.split(separator, 1) for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#") and separator in line)


def _strings(value: Any) -> list[str]:
    """Every string in a compose value (a command list, a healthcheck, a mapping)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _volume_mounts(service: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    """{container path: (source, read-only)} of a service's volumes, short or long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2:
                found[parts[1]] = (parts[0], len(parts) > 2 and "ro" in parts[2].split(","))
        else:
            found[str(volume.get("target"))] = (str(volume.get("source")), bool(volume.get("read_only")))
    return found


def _rendered(render: Callable[[SecureFiles], str], scratch: Path) -> str:
    """``render`` of placeholder passwords (no keytool): the shape of what setup() writes."""
    files = SecureFiles(scratch)
    files.dir.mkdir(parents=True, exist_ok=True)
    for name in secure.PASSWORDS:
        write_private(files.password_file(name), f"placeholder-{name}\n")
    return render(files)


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


class _Check:
    """One compose file under check: its services (as resolved) and the problems found so far."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.services: Mapping[str, Any] = config.get("services", {})
        self.errors: list[str] = []

    def service(self, name: str) -> Mapping[str, Any]:
        if name not in self.services:
            self.errors.append(f"no service {name}")
        return self.services.get(name, {})

    def env(self, name: str) -> Mapping[str, Any]:
        value = self.service(name).get("environment", {})
        return value if isinstance(value, Mapping) else dict(str(v).split("=", 1) for v in value)

    def needs(self, ok: bool, problem: str) -> None:
        if not ok:
            self.errors.append(problem)

    def depends(self, name: str, on: str, condition: str) -> None:
        found = self.service(name).get("depends_on", {}).get(on, {}).get("condition")
        self.needs(found == condition, f"{name}: must depend on {on} with condition {condition}")


def check_compose(raw: Mapping[str, Any], config: Mapping[str, Any], scratch: Path) -> list[str]:
    """The secure shape of a compose file, offline; the problems found (empty: none). ``raw``: the
    file as written (to tell ``${...}`` from literal values), ``config``: as ``docker-compose
    config`` resolved it; ``scratch``: an empty directory for rendering the configs."""
    check = _Check(config)
    _check_literal_secrets(check, raw.get("services", {}))
    _check_secret_sets(check)
    _check_kafka(check, scratch / "kafka")
    _check_redis(check, scratch / "redis")
    _check_zookeeper(check)
    for name in SET_CONSUMERS["strom"]:  # every Strom container: the local secure stack's client settings
        have = check.env(name)
        for var, value in strom_env().items():
            check.needs(str(have.get(var)) == value, f"{name}: {var}={have.get(var)!r}, expected {value!r}")
        if name != "secure-init":
            check.depends(name, "secure-init", "service_completed_successfully")
    return check.errors


def _check_literal_secrets(check: _Check, raw_services: Mapping[str, Any]) -> None:
    """Secrets only from .env (``${...}``) or files, never literal; no password on a command line."""
    for name, svc in raw_services.items():
        variables = svc.get("environment", {})
        if not isinstance(variables, Mapping):
            variables = dict(str(v).split("=", 1) for v in variables)
        for var, value in variables.items():
            check.needs(not SECRET_NAME.search(var) or var.endswith("_FILE") or str(value).startswith("${"),
                        f"{name}: {var} is literal in the compose file; take it from .env (${{...}})")
        for text in _strings([svc.get("command"), svc.get("entrypoint"), svc.get("healthcheck")]):
            check.needs(not re.search(r"requirepass|--pass\b|password=|\s-a\s", text),
                        f"{name}: a password on a command line: {text[:80]!r}")


def _check_secret_sets(check: _Check) -> None:
    """The `secrets` service reads the setup directory read-only and fills every set's volume for
    the uid its consumers run as; the consumers mount it read-only where the configs expect it."""
    installer = check.service("secrets")
    mounts = _volume_mounts(installer)
    source, read_only = mounts.get(SOURCE_MOUNT, ("", False))
    check.needs(source.rstrip("/").endswith(f"{COMPOSE_DIR}/secure") and read_only,
                f"secrets: must mount ./{COMPOSE_DIR}/secure at {SOURCE_MOUNT} read-only (got {source!r})")
    owners = {}
    for arg in _strings(installer.get("command")):
        set_name, sep, uid = arg.partition("=")
        if sep and set_name in SECRET_SETS and uid.isdigit():
            owners[set_name] = int(uid)
    for set_name, secret_set in SECRET_SETS.items():
        check.needs(mounts.get(f"{VOLUMES_MOUNT}/{set_name}", ("", True))[0] == secret_set.volume,
                    f"secrets: does not mount the volume {secret_set.volume} at {VOLUMES_MOUNT}/{set_name}")
        check.needs(set_name in owners, f"secrets: its command names no owner {set_name}=<uid>")
        for consumer in SET_CONSUMERS[set_name]:
            svc = check.service(consumer)
            check.needs(_volume_mounts(svc).get(secret_set.mount) == (secret_set.volume, True),
                        f"{consumer}: must mount the volume {secret_set.volume} at {secret_set.mount}:ro")
            user = str(svc.get("user", "")).split(":")[0]
            check.needs(not user or set_name not in owners or user == str(owners[set_name]),
                        f"{consumer}: runs as {user}, but the secrets service gives {set_name} to uid "
                        f"{owners.get(set_name)}")
    for name in ("kafka", "redis", "zookeeper"):
        check.needs(str(check.service(name).get("user", "")).split(":")[0].isdigit(),
                    f"{name}: needs an explicit numeric user (the owner of its secrets)")
    for name in ("kafka", "redis", "zookeeper", "secure-init"):
        check.depends(name, "secrets", "service_completed_successfully")


def _check_kafka(check: _Check, scratch: Path) -> None:
    """Kafka runs setup()'s config (no plaintext client listener, SCRAM, the authorizer), formatted
    with the SCRAM users from the argument file; its health check authenticates."""
    kafka = SECRET_SETS["kafka"]
    script = " ".join(_strings([check.service("kafka").get("entrypoint"), check.service("kafka").get("command")]))
    for needed in (f"@{kafka.path(KAFKA_FORMAT_ARGS)}", f"kafka-server-start.sh {kafka.path(KAFKA_PROPERTIES)}"):
        check.needs(needed in script, f"kafka: its entrypoint does not run {needed!r}")
    for var in check.env("kafka"):
        check.needs(not var.startswith("KAFKA_") or var in ("KAFKA_HEAP_OPTS", "KAFKA_OPTS"),
                    f"kafka: {var} is ignored (the broker reads {kafka.path(KAFKA_PROPERTIES)})")
    properties = _parse_properties(_rendered(kafka_server_properties, scratch), "=")
    protocols = dict(p.split(":", 1) for p in properties.get("listener.security.protocol.map", "").split(","))
    for listener in filter(None, f"{properties.get('listeners')},{properties.get('advertised.listeners')}".split(",")):
        name = listener.split("://")[0]
        check.needs(name == "CONTROLLER" or protocols.get(name, name) == "SASL_SSL",
                    f"kafka: listener {listener} is not SASL_SSL")
    expected = {"advertised.listeners": f"SASL_SSL://kafka:{KAFKA_PORT}", "inter.broker.listener.name": "SASL_SSL",
                "sasl.enabled.mechanisms": secure.SCRAM_MECHANISM, "super.users": f"User:{secure.BROKER_USER}",
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false"}
    for key, value in expected.items():
        check.needs(properties.get(key) == value,
                    f"kafka: server.properties has {key}={properties.get(key)!r}, expected {value!r}")
    check.needs(properties.get("listeners", "").endswith(f"CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}")
                and protocols.get("CONTROLLER") == "SASL_PLAINTEXT",
                "kafka: the controller listener must be SASL_PLAINTEXT on the container's 127.0.0.1")
    for key in ("ssl.keystore.location", "ssl.truststore.location"):
        location = properties.get(key, "")
        check.needs(location.startswith(kafka.mount) and location.rpartition("/")[2] in kafka.files,
                    f"kafka: {key}={location!r} is not in its secrets volume")
    health = " ".join(_strings(check.service("kafka").get("healthcheck", {}).get("test")))
    check.needs(kafka.path(KAFKA_CLIENT_PROPERTIES) in health,
                f"kafka: its health check must authenticate (--command-config {kafka.path(KAFKA_CLIENT_PROPERTIES)})")


def _check_redis(check: _Check, scratch: Path) -> None:
    """Redis runs setup()'s redis.conf: TLS only, requirepass; its health check speaks TLS."""
    redis = SECRET_SETS["redis"]
    check.needs(_strings(check.service("redis").get("command"))[:2] == ["redis-server", redis.path(REDIS_CONF)],
                f"redis: command must be redis-server {redis.path(REDIS_CONF)}")
    conf = _parse_properties(_rendered(redis_server_conf, scratch), " ")
    check.needs(conf.get("port") == "0" and conf.get("tls-port") == str(REDIS_PORT) and "requirepass" in conf,
                f"redis: redis.conf must have port 0, tls-port {REDIS_PORT} and requirepass")
    for key in ("tls-cert-file", "tls-key-file", "tls-ca-cert-file"):
        check.needs(conf.get(key, "").startswith(redis.mount) and conf[key].rpartition("/")[2] in redis.files,
                    f"redis: {key} {conf.get(key)!r} is not in its secrets volume")
    check.needs("--tls" in " ".join(_strings(check.service("redis").get("healthcheck", {}).get("test"))),
                "redis: its health check must use --tls")


def _check_zookeeper(check: _Check) -> None:
    """ZooKeeper has the local secure stack's settings, and its JAAS file when it enforces sasl."""
    env = check.env("zookeeper")
    extra = dict(e.split("=", 1) for e in str(env.get("ZOO_CFG_EXTRA", "")).split() if "=" in e)
    for key, value in zookeeper_settings().items():
        check.needs(extra.get(key) == value,
                    f"zookeeper: ZOO_CFG_EXTRA lacks {key}={value} (strom.stack.secure.ZOO_CFG_SECURE)")
    jaas = SECRET_SETS["zookeeper"].path(ZOOKEEPER_JAAS)
    check.needs("sasl" not in zookeeper_settings().get("enforce.auth.schemes", "")
                or f"-Djava.security.auth.login.config={jaas}" in str(env.get("JVMFLAGS", "")),
                f"zookeeper: JVMFLAGS must name its JAAS file {jaas}")


# --- command line ---------------------------------------------------------------------------------

@click.group()
def main() -> None:
    """The secrets of docker-compose.yml's secure stack."""


@main.command("setup")
@click.option("--dir", "compose_dir", type=click.Path(path_type=Path), default=Path(COMPOSE_DIR),
              show_default=True, help="Where the secrets go (in DIR/secure).")
@click.option("--env-file", type=click.Path(path_type=Path), default=Path(".env"), show_default=True,
              help="Compose's .env: the tokens missing there are added, none changed.")
def setup_command(compose_dir: Path, env_file: Path) -> None:
    """Make the secrets and configs docker-compose.yml mounts, and .env's tokens (on the host)."""
    try:
        files = setup(compose_dir, env_file)
    except (secure.SecureSetupError, ComposeSetupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"compose-secrets: {files.dir} (0700, files 0600) and {env_file} are ready; "
               "now: docker compose up -d --build")


@main.command("install")
@click.argument("owners", nargs=-1, required=True)
@click.option("--source", type=click.Path(path_type=Path), default=Path(SOURCE_MOUNT), show_default=True)
@click.option("--target", type=click.Path(path_type=Path), default=Path(VOLUMES_MOUNT), show_default=True)
def install_command(owners: tuple[str, ...], source: Path, target: Path) -> None:
    """Copy the secret sets into their volumes; OWNERS: SET=UID, e.g. kafka=1000 (in the container)."""
    parsed = {}
    for owner in owners:
        name, sep, uid = owner.partition("=")
        if not sep or not uid.isdigit():
            raise click.UsageError(f"expected SET=UID, got {owner!r}")
        parsed[name] = int(uid)
    try:
        install(source, target, parsed)
    except (ComposeSetupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"secrets: installed {', '.join(f'{n} (uid {u})' for n, u in parsed.items())}")


@main.command("secure-init")
@click.option("--admin-password-file", default=SECRET_SETS["kafka-admin"].path("kafka-admin.password"),
              show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=120.0, show_default=True, help="Seconds.")
def secure_init_command(admin_password_file: str, timeout_s: float) -> None:
    """Lock ZooKeeper's / and /strom and grant Strom's Kafka ACLs (in the container)."""
    config = Configuration()
    try:
        secure_init(config, admin_password_file, timeout_s)
    except secure.SecureSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"secure-init: ZooKeeper locked, Kafka ACLs granted to User:{secure.CLIENT_USER} "
               f"(data topics {config.get(StackOptions.SECURE_DATA_TOPICS)!r}, cluster "
               f"{config.get(ClusterOptions.CLUSTER_ID)!r})")


@main.command("check")
@click.argument("raw_json", type=click.Path(exists=True, path_type=Path))
@click.argument("config_json", type=click.Path(exists=True, path_type=Path))
def check_command(raw_json: Path, config_json: Path) -> None:
    """Check a compose file's secure shape: RAW_JSON (the file as JSON) and CONFIG_JSON (its
    `docker-compose config` as JSON). Exit 1 with the problems on stderr."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        errors = check_compose(json.loads(raw_json.read_text()), json.loads(config_json.read_text()), Path(scratch))
    for error in errors:
        click.echo(f"validate-compose: FAILED: {error}", err=True)
    if errors:
        sys.exit(1)
    click.echo(f"validate-compose: secure shape OK (Kafka SASL_SSL/{secure.SCRAM_MECHANISM}, Redis TLS + "
               f"requirepass, ZooKeeper {zookeeper_settings().get('enforce.auth.schemes')}, "
               f"{len(SET_CONSUMERS['strom']) - 1} Strom services with the client settings)")


if __name__ == "__main__":
    main()
