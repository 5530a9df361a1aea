"""The REST bearer token and the cluster secret: where they come from, made once per cluster,
compared in constant time.

Strom runs the code it is sent, so whoever may submit a job must prove it. The token is
``rest.token`` (from the environment or an env file; never a command-line argument, which other
users of the machine can read in ``ps``) or else the contents of ``rest.token-file`` (mode 0600,
under the state directory). A JobManager that finds neither makes the file; the CLI on the same
machine reads it, so the quick start needs no step of its own.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from strom.config import ClusterOptions, ConfigOption, Configuration, RestOptions
from strom.errors import ConfigError

TOKEN_BYTES = 32  # of randomness in a token made here (43 URL-safe characters)


def rest_token(config: Configuration, create: bool = False) -> str:
    """The cluster's REST token. ``create``: make the token file if it does not exist (a
    JobManager). Raises :class:`~strom.errors.ConfigError` when there is none and ``create`` is
    False, naming both places it looked."""
    return _option_or_file(config, RestOptions.TOKEN, RestOptions.TOKEN_FILE, create,
                           "REST token", "a JobManager writes it at its first start")


def cluster_secret(config: Configuration, create: bool = False) -> bytes:
    """The key of the control plane's message HMACs and of sealed artifacts and snapshots:
    ``cluster.secret``, else the contents of ``cluster.secret-file`` (``create``: make the file
    if there is none). Raises :class:`~strom.errors.ConfigError` when there is none, naming both
    places it looked."""
    return _option_or_file(config, ClusterOptions.SECRET, ClusterOptions.SECRET_FILE, create,
                           "cluster secret", "the first process of the cluster writes it").encode()


def optional_secret(config: Configuration, option: ConfigOption[str], file_option: ConfigOption[str]) -> str:
    """A client credential that may be absent (a Kafka, ZooKeeper or Redis password): ``option``,
    else the contents of the file ``file_option`` names (stripped), else "" when neither is set.
    Raises :class:`~strom.errors.ConfigError` naming the file when it is set but unreadable or empty."""
    value = config.get(option)
    if value or not config.get(file_option):
        return value
    path = Path(config.get(file_option))
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {file_option.key} {path} ({file_option.env_var}): {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{file_option.key} {path} ({file_option.env_var}) is empty")
    return value


def _option_or_file(config: Configuration, option: ConfigOption[str], file_option: ConfigOption[str],
                    create: bool, what: str, who_writes: str) -> str:
    value = config.get(option)
    if value:
        return value
    path = Path(config.get(file_option))
    if create:
        _create(path)
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        raise ConfigError(f"no {what}: set {option.env_var} or make {path} readable ({who_writes})")
    return value


def _create(path: Path) -> None:
    """Write a new random token to ``path`` (mode 0600) unless a file is there already. Written
    aside and linked into place, so a reader never sees it half-written and the first one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another process of this state dir made it first: use that one
    finally:
        aside.unlink()


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time comparison).

    >>> bearer_matches("Bearer s3cret", "s3cret"), bearer_matches("Bearer guess", "s3cret")
    (True, False)
    >>> bearer_matches(None, "s3cret"), bearer_matches("Basic s3cret", "s3cret")
    (False, False)
    """
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
