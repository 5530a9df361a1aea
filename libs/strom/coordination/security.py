"""ZooKeeper credentials, TLS and the ACLs of Strom's znodes.

With ``zookeeper.auth.username`` set, every session Strom opens authenticates as that user, by
``zookeeper.auth.mechanism``: ``digest`` (kazoo ``auth_data``) or ``sasl`` (SASL DIGEST-MD5,
kazoo ``sasl_options`` through pure-sasl, against a ZooKeeper whose JAAS ``Server`` section
knows the user). Every znode Strom creates under ``/strom/<cluster.id>`` gets the ACL
of :func:`cluster_acl`: the user may do anything, everyone else may only read (the leader nodes
name addresses and epochs, nothing secret; a client without credentials can still find the
leader). ``/strom`` itself stays open so that clusters with other credentials can share the
ZooKeeper. Nodes made before credentials were configured (open ACLs) are locked down when a
member connects (:func:`secure_cluster_tree`).
"""

from __future__ import annotations

from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoAuthError, NoNodeError
from kazoo.security import ACL, OPEN_ACL_UNSAFE, make_acl, make_digest_acl

from strom.config import ClusterOptions, Configuration, ZooKeeperOptions
from strom.credentials import optional_secret
from strom.errors import ConfigError
from strom.logs import get_logger
from strom.naming import ZOOKEEPER_ROOT, cluster_path

log = get_logger(__name__)


def zookeeper_digest(config: Configuration) -> tuple[str, str] | None:
    """The digest user and password of ``config``, or None without a user. Raises
    :class:`~strom.errors.ConfigError` for a user without a password."""
    username = config.get(ZooKeeperOptions.AUTH_USERNAME)
    if not username:
        return None
    password = optional_secret(config, ZooKeeperOptions.AUTH_PASSWORD, ZooKeeperOptions.AUTH_PASSWORD_FILE)
    if not password:
        raise ConfigError(f"{ZooKeeperOptions.AUTH_USERNAME.env_var} is set but no password: set "
                          f"{ZooKeeperOptions.AUTH_PASSWORD.env_var} or {ZooKeeperOptions.AUTH_PASSWORD_FILE.env_var}")
    return username, password


def cluster_acl(config: Configuration) -> list[ACL] | None:
    """The ACL of Strom's znodes: the configured user may do anything (scheme ``digest``, or
    ``sasl`` with ``zookeeper.auth.mechanism=sasl``), the world only read; None (kazoo's open
    ACL) without credentials.

    >>> acl = cluster_acl(Configuration(env={"STROM_ZOOKEEPER_AUTH_USERNAME": "strom",
    ...                                      "STROM_ZOOKEEPER_AUTH_PASSWORD": "pw"}))
    >>> [(a.id.scheme, a.acl_list) for a in acl]
    [('digest', ['ALL']), ('world', ['READ'])]
    >>> acl = cluster_acl(Configuration(env={"STROM_ZOOKEEPER_AUTH_USERNAME": "strom",
    ...                                      "STROM_ZOOKEEPER_AUTH_PASSWORD": "pw",
    ...                                      "STROM_ZOOKEEPER_AUTH_MECHANISM": "sasl"}))
    >>> [(a.id.scheme, a.id.id, a.acl_list) for a in acl]
    [('sasl', 'strom', ['ALL']), ('world', 'anyone', ['READ'])]
    """
    digest = zookeeper_digest(config)
    if digest is None:
        return None
    user = (make_acl("sasl", digest[0], all=True) if config.get(ZooKeeperOptions.AUTH_MECHANISM) == "sasl"
            else make_digest_acl(*digest, all=True))
    return [user, make_acl("world", "anyone", read=True)]


def zookeeper_client_kwargs(config: Configuration) -> dict[str, Any]:
    """Keyword arguments of ``KazooClient`` beyond hosts and timeout: ``auth_data`` (digest) or
    ``sasl_options`` (sasl) and ``default_acl`` with credentials, the TLS settings with
    ``zookeeper.ssl.enabled``."""
    kwargs: dict[str, Any] = {}
    digest = zookeeper_digest(config)
    if digest is not None:
        if config.get(ZooKeeperOptions.AUTH_MECHANISM) == "sasl":
            kwargs["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": digest[0], "password": digest[1]}
        else:
            kwargs["auth_data"] = [("digest", ":".join(digest))]
        kwargs["default_acl"] = cluster_acl(config)
    if config.get(ZooKeeperOptions.SSL_ENABLED):
        kwargs["use_ssl"] = True
        for option, name in ((ZooKeeperOptions.SSL_CA_LOCATION, "ca"),
                             (ZooKeeperOptions.SSL_CERTIFICATE_LOCATION, "certfile"),
                             (ZooKeeperOptions.SSL_KEY_LOCATION, "keyfile"),
                             (ZooKeeperOptions.SSL_KEY_PASSWORD, "keyfile_password")):
            if value := config.get(option):
                kwargs[name] = value
    return kwargs


def secure_cluster_tree(client: KazooClient, config: Configuration) -> None:
    """With credentials: make sure ``/strom`` exists with an open ACL (shared by clusters) and
    that every znode under ``/strom/<cluster.id>`` has :func:`cluster_acl` (nodes made before
    credentials were configured are locked down). A node this user may not change is logged,
    not fatal. Without credentials: nothing."""
    acl = cluster_acl(config)
    if acl is None:
        return
    client.ensure_path(ZOOKEEPER_ROOT, acl=OPEN_ACL_UNSAFE)
    root = cluster_path(config.get(ClusterOptions.CLUSTER_ID))
    client.ensure_path(root, acl=acl)
    pending = [root]
    while pending:
        path = pending.pop()
        try:
            current, _stat = client.get_acls(path)
            if _acl_set(current) != _acl_set(acl):
                client.set_acls(path, acl)
                log.info("locked down znode", path=path)
            pending.extend(f"{path}/{child}" for child in client.get_children(path))
        except NoNodeError:
            continue  # an ephemeral node that went away meanwhile
        except NoAuthError:
            log.warning("znode not ours: cannot set its ACL (made by another ZooKeeper user?)", path=path)
        except KazooException as exc:
            log.warning("cannot check a znode's ACL", path=path, error=repr(exc))


def _acl_set(acl: list[ACL]) -> set[tuple[int, str, str]]:
    return {(entry.perms, entry.id.scheme, entry.id.id) for entry in acl}
