"""``ops/stack up --secure``: the same Kafka, ZooKeeper and Redis, locked down.

- Kafka: its client listener is SASL_SSL with SCRAM-SHA-512 (certificates made with the JDK's
  ``keytool``: a CA, the broker's keystore and truststore, the CA as PEM for librdkafka); the
  SCRAM credentials are written at storage format time; the KRaft ``StandardAuthorizer`` lets
  the broker's principal :data:`BROKER_USER` do anything and Strom's principal
  :data:`CLIENT_USER` only what Strom needs (:func:`strom_acls`). The controller listener stays
  on 127.0.0.1 without TLS but with SASL/PLAIN (an anonymous one would have to be a super user).
- Redis: TLS only (the same certificate) and ``requirepass``.
- The schema registry (Apicurio, Quarkus): https only (the same certificate) and HTTP basic
  authentication on every path of its API (:data:`CLIENT_USER`, a SHA-512 digest of its password
  in the config); its management interface (health, metrics) stays plain HTTP on 127.0.0.1.
- ZooKeeper: every session must authenticate by SASL (DIGEST-MD5 against the JAAS ``Server``
  section of :func:`zookeeper_jaas`; ``enforce.auth.schemes=sasl``, ZooKeeper 3.7+); ``/`` and
  ``/strom`` get Strom's ACL (only ``sasl:`` :data:`CLIENT_USER` writes, anyone reads).

Secrets are made once per state dir under ``<state>/secure`` (a directory of mode 0700, every
file 0600) and are never printed: they reach the servers through files (configs of mode 0600, a
Java argument file, ``keytool -storepass:file``), never through a command line.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12
from kazoo.client import KazooClient

from strom.config import Configuration, KafkaOptions, SchemaRegistryOptions
from strom.coordination.security import cluster_acl
from strom.naming import ZOOKEEPER_ROOT

SCRAM_MECHANISM = "SCRAM-SHA-512"
BROKER_USER = "admin"    # the broker's own principal (inter-broker, controller): a super user
CLIENT_USER = "strom"    # Strom's principal in Kafka and its digest user in ZooKeeper
PASSWORDS = ("kafka-admin", "kafka-strom", "redis", "zookeeper", "registry", "keystore")
SAN = "SAN=ip:127.0.0.1,dns:localhost"
CERT_VALIDITY_DAYS = "3650"


class SecureSetupError(Exception):
    """Making the secrets or certificates, or granting Kafka ACLs, failed; the message says what."""


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (from its creation on: no moment world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


class SecureFiles:
    """The secrets and certificates of one state dir's secure stack, under ``<state>/secure``.
    ``hosts``: DNS names the server certificate names besides 127.0.0.1 and localhost (those of
    the compose network: ``kafka``, ``redis``, ``zookeeper``)."""

    def __init__(self, state: Path, hosts: Sequence[str] = ()) -> None:
        self.dir = state / "secure"
        self.san = SAN + "".join(f",dns:{host}" for host in hosts)

    def password_file(self, name: str) -> Path:
        """The file of one of :data:`PASSWORDS` (it holds the password and a newline)."""
        return self.dir / f"{name}.password"

    def password(self, name: str) -> str:
        """One of :data:`PASSWORDS`. Raises OSError if :meth:`ensure` has not made it."""
        return self.password_file(name).read_text().strip()

    @property
    def ca_pem(self) -> Path:
        """The CA certificate (PEM): what clients trust (``kafka.ssl.ca.location``, Redis TLS)."""
        return self.dir / "ca.pem"

    @property
    def keystore(self) -> Path:
        """The broker's key and certificate chain (PKCS12, ``keystore`` password)."""
        return self.dir / "broker.p12"

    @property
    def truststore(self) -> Path:
        return self.dir / "truststore.p12"

    @property
    def server_chain_pem(self) -> Path:
        return self.dir / "server-chain.pem"

    @property
    def server_key_pem(self) -> Path:
        return self.dir / "server-key.pem"

    @property
    def complete(self) -> bool:
        return self.server_key_pem.is_file() and all(self.password_file(n).is_file() for n in PASSWORDS)

    def ensure(self) -> None:
        """Make what is missing: the passwords (32 random bytes each, URL-safe), then the CA and
        the server's certificate (``keytool``, ~5 s once). Raises :class:`SecureSetupError`."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        for name in PASSWORDS:
            if not self.password_file(name).is_file():
                write_private(self.password_file(name), secrets.token_urlsafe(32) + "\n")
        if not self.server_key_pem.is_file():
            self._certificates()
        for path in self.dir.iterdir():
            path.chmod(0o600)  # keytool's files come with the umask's mode

    def _keytool(self, *args: str) -> None:
        store_password = self.password_file("keystore")
        argv = ["keytool", *args, "-storepass:file", str(store_password)]
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise SecureSetupError(f"keytool {args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def _certificates(self) -> None:
        """A CA, the server's key signed by it (for 127.0.0.1, localhost and :attr:`san`'s other
        hosts), its keystore and a truststore of the CA; then the same key and chain as PEM for Redis."""
        for stale in self.dir.glob("*.p12"):
            stale.unlink()  # a half-made set from an interrupted run: start over
        ca, csr, cert = self.dir / "ca.p12", self.dir / "server.csr", self.dir / "server.pem"
        common = ("-keyalg", "RSA", "-keysize", "2048", "-validity", CERT_VALIDITY_DAYS, "-storetype", "PKCS12")
        self._keytool("-genkeypair", "-alias", "ca", "-dname", "CN=Strom local CA", "-ext", "bc:c",
                      "-keystore", str(ca), *common)
        self._keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", str(ca), "-file", str(self.ca_pem))
        self._keytool("-genkeypair", "-alias", "server", "-dname", "CN=127.0.0.1", "-ext", self.san,
                      "-keystore", str(self.keystore), *common)
        self._keytool("-certreq", "-alias", "server", "-keystore", str(self.keystore), "-file", str(csr))
        self._keytool("-gencert", "-alias", "ca", "-keystore", str(ca), "-infile", str(csr), "-outfile", str(cert),
                      "-rfc", "-validity", CERT_VALIDITY_DAYS, "-ext", self.san, "-ext", "eku=serverAuth")
        self._keytool("-importcert", "-alias", "ca", "-keystore", str(self.keystore), "-file", str(self.ca_pem),
                      "-noprompt")
        self._keytool("-importcert", "-alias", "server", "-keystore", str(self.keystore), "-file", str(cert))
        self._keytool("-importcert", "-alias", "ca", "-keystore", str(self.truststore), "-storetype", "PKCS12",
                      "-file", str(self.ca_pem), "-noprompt")
        csr.unlink()
        # Redis reads PEM only, and keytool cannot export a private key: convert the keystore.
        key, server, _chain = pkcs12.load_key_and_certificates(
            self.keystore.read_bytes(), self.password("keystore").encode())
        assert key is not None and server is not None
        write_private(self.server_chain_pem, server.public_bytes(Encoding.PEM).decode() + self.ca_pem.read_text())
        write_private(self.server_key_pem, key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode())

    def scram_format_argfile(self, java_args: list[str]) -> Path:
        """A Java argument file (0600) of ``java_args`` (the main class and its arguments) plus
        ``--add-scram`` for both Kafka users, so the passwords stay off the command line."""
        users = {BROKER_USER: self.password("kafka-admin"), CLIENT_USER: self.password("kafka-strom")}
        scram = [f"{SCRAM_MECHANISM}=[name={user},password={password}]" for user, password in users.items()]
        path = self.dir / "kafka-format.args"
        write_private(path, "\n".join(f'"{arg}"' for arg in
                                      [*java_args, *(a for s in scram for a in ("--add-scram", s))]) + "\n")
        return path


def kafka_listener_properties(files: SecureFiles, port: int, controller_port: int) -> str:
    """server.properties lines of the secure broker: listeners, SASL, TLS and the authorizer."""
    admin, store = files.password("kafka-admin"), files.password("keystore")
    return f"""\
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms={SCRAM_MECHANISM}
sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
required username="{BROKER_USER}" password="{admin}";
# SCRAM needs the metadata log, so the controller listener authenticates with PLAIN.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
required username="{BROKER_USER}" password="{admin}" user_{BROKER_USER}="{admin}";
ssl.keystore.type=PKCS12
ssl.keystore.location={files.keystore}
ssl.keystore.password={store}
ssl.key.password={store}
ssl.truststore.type=PKCS12
ssl.truststore.location={files.truststore}
ssl.truststore.password={store}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{BROKER_USER}
allow.everyone.if.no.acl.found=false
"""


def redis_conf(files: SecureFiles, port: int, data: Path, log: Path, persistence: Sequence[str]) -> str:
    """redis.conf of the secure Redis: TLS only on ``port``, ``requirepass``; ``persistence`` are
    the plain stack's ``--name value`` arguments (the same durability)."""
    pairs = [persistence[i][2:] + " " + (persistence[i + 1] or '""') for i in range(0, len(persistence), 2)]
    return "\n".join([
        "# Generated by ops/stack up --secure — edits are overwritten on every start.",
        "bind 127.0.0.1", "port 0", f"tls-port {port}", f"tls-cert-file {files.server_chain_pem}",
        f"tls-key-file {files.server_key_pem}", f"tls-ca-cert-file {files.ca_pem}", "tls-auth-clients no",
        f"requirepass {files.password('redis')}", f"dir {data}", f"logfile {log}", *pairs, ""])


ZOO_CFG_SECURE = """\
# Every session must authenticate by SASL before anything else (ZooKeeper 3.7+); Strom's znodes
# carry sasl ACLs, so only Strom's user writes them.
authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
enforce.auth.enabled=true
enforce.auth.schemes=sasl
"""


def zookeeper_jaas(files: SecureFiles) -> Path:
    """The JAAS file (0600) of the secure ZooKeeper (``-Djava.security.auth.login.config``): its
    ``Server`` section lets :data:`CLIENT_USER` in by SASL DIGEST-MD5 with its password."""
    path = files.dir / "zookeeper-jaas.conf"
    password = files.password("zookeeper").replace("\\", "\\\\").replace('"', '\\"')
    write_private(path, "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                        f'  user_{CLIENT_USER}="{password}";\n}};\n')
    return path


def registry_listener_properties(files: SecureFiles, port: int) -> str:
    """application.properties lines of the secure registry: https only on ``port``, and every
    request authenticated by HTTP basic auth as :data:`CLIENT_USER`. Quarkus' embedded users
    (built into Apicurio's app) hold ``hex(sha512(user:realm:password))``, realm ``Quarkus``."""
    digest = hashlib.sha512(f"{CLIENT_USER}:Quarkus:{files.password('registry')}".encode()).hexdigest()
    return "\n".join([
        "quarkus.http.insecure-requests=disabled", f"quarkus.http.ssl-port={port}",
        f"quarkus.http.ssl.certificate.files={files.server_chain_pem}",
        f"quarkus.http.ssl.certificate.key-files={files.server_key_pem}",
        "quarkus.http.auth.basic=true", "quarkus.security.users.embedded.algorithm=digest-sha-512",
        f"quarkus.security.users.embedded.users.{CLIENT_USER}={digest}",
        f"quarkus.security.users.embedded.roles.{CLIENT_USER}=sr-admin",
        "quarkus.http.auth.permission.authenticated.paths=/*",
        "quarkus.http.auth.permission.authenticated.policy=authenticated"])


def client_env(files: SecureFiles, plain: Mapping[str, str], redis_port: int) -> dict[str, str]:
    """The STROM_* settings of every Strom process and CLI of the secure stack: ``plain`` (the
    addresses) with a ``rediss://`` Redis URL and the credentials (password files, the CA)."""
    return {**plain, "STROM_REDIS_URL": f"rediss://127.0.0.1:{redis_port}/0",
            KafkaOptions.SECURITY_PROTOCOL.env_var: "sasl_ssl",
            KafkaOptions.SASL_MECHANISM.env_var: SCRAM_MECHANISM,
            KafkaOptions.SASL_USERNAME.env_var: CLIENT_USER,
            KafkaOptions.SASL_PASSWORD_FILE.env_var: str(files.password_file("kafka-strom")),
            KafkaOptions.SSL_CA_LOCATION.env_var: str(files.ca_pem),
            "STROM_ZOOKEEPER_AUTH_USERNAME": CLIENT_USER, "STROM_ZOOKEEPER_AUTH_MECHANISM": "sasl",
            "STROM_ZOOKEEPER_AUTH_PASSWORD_FILE": str(files.password_file("zookeeper")),
            "STROM_REDIS_PASSWORD_FILE": str(files.password_file("redis")),
            "STROM_REDIS_SSL_CA_LOCATION": str(files.ca_pem),
            SchemaRegistryOptions.USERNAME.env_var: CLIENT_USER,
            SchemaRegistryOptions.PASSWORD_FILE.env_var: str(files.password_file("registry")),
            SchemaRegistryOptions.SSL_CA_LOCATION.env_var: str(files.ca_pem)}


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """``env`` as shell assignments (``set -a; . FILE; set +a`` exports them), mode 0600."""
    write_private(path, "# Generated by ops/stack up --secure: the settings of Strom's clients of this stack.\n"
                  + "".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))


def strom_acls(data_topics: str) -> list[AclBinding]:
    """Kafka ACLs of :data:`CLIENT_USER`: its own topics ``strom.*`` (control, edges, sink markers),
    consumer groups and transactional ids ``strom-*``, describing the cluster and idempotent
    writes, and the jobs' data topics: ``data_topics``, comma-separated name prefixes, ``*`` all."""
    principal = f"User:{CLIENT_USER}"

    def allow(kind: ResourceType, name: str, pattern: ResourcePatternType, operation: AclOperation) -> AclBinding:
        return AclBinding(kind, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)
    prefixed, literal = ResourcePatternType.PREFIXED, ResourcePatternType.LITERAL
    acls = [allow(ResourceType.TOPIC, "strom.", prefixed, AclOperation.ALL),
            allow(ResourceType.GROUP, "strom-", prefixed, AclOperation.ALL),
            allow(ResourceType.TRANSACTIONAL_ID, "strom-", prefixed, AclOperation.ALL),
            allow(ResourceType.BROKER, "kafka-cluster", literal, AclOperation.DESCRIBE),
            allow(ResourceType.BROKER, "kafka-cluster", literal, AclOperation.IDEMPOTENT_WRITE)]
    for prefix in (p.strip() for p in data_topics.split(",") if p.strip()):
        acls.append(allow(ResourceType.TOPIC, prefix, literal if prefix == "*" else prefixed, AclOperation.ALL))
    return acls


def grant_acls(admin_config: dict[str, Any], data_topics: str, timeout_s: float) -> None:
    """Create :func:`strom_acls` (creating one that exists is a no-op) with an admin client of
    ``admin_config`` (the super user's). Raises :class:`SecureSetupError`."""
    admin = AdminClient(admin_config)
    try:
        for future in admin.create_acls(strom_acls(data_topics), request_timeout=timeout_s).values():
            future.result(timeout=timeout_s)
    except KafkaException as exc:
        raise SecureSetupError(f"cannot create Kafka ACLs for User:{CLIENT_USER}: {exc}") from exc


def lock_zookeeper(client: KazooClient, config: Configuration) -> None:
    """Give ``/`` and ``/strom`` Strom's ACL (its user does anything, others only read), so
    no other user of the ZooKeeper creates nodes, nor Strom's cluster paths before it does."""
    acl = cluster_acl(config)
    assert acl is not None, "the secure stack's client config has ZooKeeper credentials"
    client.set_acls("/", acl)
    client.ensure_path(ZOOKEEPER_ROOT, acl=acl)
    if client.get_acls(ZOOKEEPER_ROOT)[0] != acl:
        client.set_acls(ZOOKEEPER_ROOT, acl)
