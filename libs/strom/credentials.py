"""The REST bearer token: where it comes from, made once per cluster, compared in constant time.

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

from strom.config import Configuration, RestOptions
from strom.errors import ConfigError

TOKEN_BYTES = 32  # of randomness in a token made here (43 URL-safe characters)


def rest_token(config: Configuration, create: bool = False) -> str:
    """The cluster's REST token. ``create``: make the token file if it does not exist (a
    JobManager). Raises :class:`~strom.errors.ConfigError` when there is none and ``create`` is
    False, naming both places it looked."""
    token = config.get(RestOptions.TOKEN)
    if token:
        return token
    path = Path(config.get(RestOptions.TOKEN_FILE))
    if create:
        _create(path)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if not token:
        raise ConfigError(f"no REST token: set {RestOptions.TOKEN.env_var} or make {path} readable "
                          f"(a JobManager writes it at its first start)")
    return token


def _create(path: Path) -> None:
    """Write a new random token to ``path`` (mode 0600) unless a file is there already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another JobManager of this state dir made it: use that one
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time comparison).

    >>> bearer_matches("Bearer s3cret", "s3cret"), bearer_matches("Bearer guess", "s3cret")
    (True, False)
    >>> bearer_matches(None, "s3cret"), bearer_matches("Basic s3cret", "s3cret")
    (False, False)
    """
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
