"""Client settings of Kafka and Redis, declared once in :mod:`strom.config` and applied to every
client Strom creates.

Every Kafka producer, consumer and admin client gets its config from :func:`kafka_client_config`:
``bootstrap.servers``, then the cluster-wide client security settings (``kafka.security.protocol``,
``kafka.sasl.*``, ``kafka.ssl.*`` and ``kafka.client-properties``: :func:`kafka_security`), then
the client's own settings, then a user connector's ``set_property`` values (which override the
cluster-wide ones, as in Flink's ``properties.*``). Redis clients get their credentials and TLS
files from :func:`redis_connection_kwargs`, REST clients what they trust from :func:`rest_verify`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from strom.config import ConfigOption, Configuration, KafkaOptions, RedisOptions, RestOptions, SchemaRegistryOptions
from strom.credentials import optional_secret
from strom.errors import ConfigError

#: Options whose value is the librdkafka property of the same name without ``kafka.``.
KAFKA_PASSTHROUGH: tuple[ConfigOption[str], ...] = (
    KafkaOptions.SECURITY_PROTOCOL, KafkaOptions.SASL_MECHANISM, KafkaOptions.SASL_USERNAME,
    KafkaOptions.SSL_CA_LOCATION, KafkaOptions.SSL_CERTIFICATE_LOCATION, KafkaOptions.SSL_KEY_LOCATION)
#: Secret options (with the option naming a file to read them from instead), mapped the same way.
KAFKA_SECRETS: tuple[tuple[ConfigOption[str], ConfigOption[str]], ...] = (
    (KafkaOptions.SASL_PASSWORD, KafkaOptions.SASL_PASSWORD_FILE),
    (KafkaOptions.SSL_KEY_PASSWORD, KafkaOptions.SSL_KEY_PASSWORD_FILE))


def librdkafka_name(option: ConfigOption[Any]) -> str:
    """The librdkafka property an option of :data:`KAFKA_PASSTHROUGH` sets.

    >>> librdkafka_name(KafkaOptions.SSL_CA_LOCATION)
    'ssl.ca.location'
    """
    return option.key.removeprefix("kafka.")


def kafka_security(config: Configuration) -> dict[str, str]:
    """The cluster-wide librdkafka settings every Kafka client of ``config`` gets: the properties
    of ``kafka.client-properties``, then each security option that is set (passwords from their
    option or file). Empty when none is set (a plaintext cluster).

    Raises :class:`~strom.errors.ConfigError` for a password file that cannot be read.

    >>> config = Configuration(env={"STROM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    ...                             "STROM_KAFKA_SASL_USERNAME": "strom", "STROM_KAFKA_SASL_PASSWORD": "pw"})
    >>> kafka_security(config)
    {'security.protocol': 'sasl_ssl', 'sasl.username': 'strom', 'sasl.password': 'pw'}
    """
    properties: dict[str, str] = config.get(KafkaOptions.CLIENT_PROPERTIES)
    settings = dict(properties)
    for option in KAFKA_PASSTHROUGH:
        if value := config.get(option):
            settings[librdkafka_name(option)] = value
    for option, file_option in KAFKA_SECRETS:
        if value := optional_secret(config, option, file_option):
            settings[librdkafka_name(option)] = value
    return settings


def kafka_client_config(bootstrap: str, settings: Mapping[str, Any] | None = None, *,
                        properties: Mapping[str, Any] | None = None, security: Mapping[str, Any] | None = None,
                        config: Configuration | None = None) -> dict[str, Any]:
    """The config of a Kafka client Strom creates, in order of precedence (last wins):
    ``bootstrap.servers``; the cluster-wide security settings (``security`` when the caller read
    them already, else :func:`kafka_security` of ``config``, else of the environment, as every
    service reads its own); the client's ``settings``; a user connector's ``properties``.

    >>> kafka_client_config("k:9092", {"group.id": "g"}, security={"security.protocol": "ssl"},
    ...                     properties={"security.protocol": "plaintext"})
    {'bootstrap.servers': 'k:9092', 'security.protocol': 'plaintext', 'group.id': 'g'}
    """
    if security is None:
        security = kafka_security(config if config is not None else Configuration())
    return {"bootstrap.servers": bootstrap, **security, **(settings or {}), **(properties or {})}


def redis_connection_kwargs(config: Configuration) -> dict[str, Any]:
    """Keyword arguments of ``redis.Redis.from_url(redis.url, ...)`` beyond the URL: the ACL user
    and password of ``redis.username``/``redis.password`` (or its file), and for a ``rediss://``
    URL the TLS files that are set. A user or password in the URL itself takes precedence
    (redis-py's rule).

    >>> redis_connection_kwargs(Configuration(env={"STROM_REDIS_URL": "rediss://redis:6380/0",
    ...                                            "STROM_REDIS_PASSWORD": "pw",
    ...                                            "STROM_REDIS_SSL_CA_LOCATION": "/ca.pem"}))
    {'password': 'pw', 'ssl_ca_certs': '/ca.pem'}
    """
    kwargs: dict[str, Any] = {}
    if username := config.get(RedisOptions.USERNAME):
        kwargs["username"] = username
    if password := optional_secret(config, RedisOptions.PASSWORD, RedisOptions.PASSWORD_FILE):
        kwargs["password"] = password
    if urlsplit(config.get(RedisOptions.URL)).scheme == "rediss":
        for option, name in ((RedisOptions.SSL_CA_LOCATION, "ssl_ca_certs"),
                             (RedisOptions.SSL_CERTIFICATE_LOCATION, "ssl_certfile"),
                             (RedisOptions.SSL_KEY_LOCATION, "ssl_keyfile")):
            if value := config.get(option):
                kwargs[name] = value
    return kwargs


def rest_verify(config: Configuration) -> ssl.SSLContext | bool:
    """What a REST client (httpx ``verify=``) trusts for an https JobManager address: the CAs in
    ``security.ssl.rest.ca-file`` (the certificate and its host name are checked), else True, the
    system's CAs. Raises :class:`ssl.SSLError` or :class:`OSError` for an unreadable CA file."""
    ca_file = config.get(RestOptions.SSL_CA_FILE)
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def schema_registry_config(config: Configuration | None = None) -> dict[str, Any]:
    """The ``SchemaRegistryClient`` configuration of the cluster's settings
    (:class:`~strom.config.SchemaRegistryOptions`: ``STROM_SCHEMA_REGISTRY_URL``, ``..._USERNAME``,
    ``..._PASSWORD[_FILE]``, ``..._SSL_CA_LOCATION``; ``ops/stack up --secure`` writes them into
    ``secure.env``): ``url``, and ``basic.auth.user.info`` / ``ssl.ca.location`` when set.

    >>> schema_registry_config(Configuration(env={"STROM_SCHEMA_REGISTRY_PORT": "8095"}))
    {'url': 'http://127.0.0.1:8095/apis/ccompat/v7'}

    Raises :class:`~strom.errors.ConfigError` for a user without a password, or an unreadable
    password file.
    """
    config = config or Configuration()
    conf: dict[str, Any] = {"url": config.get(SchemaRegistryOptions.URL)}
    if username := config.get(SchemaRegistryOptions.USERNAME):
        password = optional_secret(config, SchemaRegistryOptions.PASSWORD, SchemaRegistryOptions.PASSWORD_FILE)
        if not password:
            raise ConfigError(f"{SchemaRegistryOptions.USERNAME.env_var} is set but no password: set "
                              f"{SchemaRegistryOptions.PASSWORD_FILE.env_var}")
        conf["basic.auth.user.info"] = f"{username}:{password}"
    if ca := config.get(SchemaRegistryOptions.SSL_CA_LOCATION):
        conf["ssl.ca.location"] = ca
    return conf
