"""HMAC-SHA256 seals on bytes Strom keeps outside its processes and later unpickles.

The key is the cluster secret (:func:`~strom.credentials.cluster_secret`). A job
artifact is stored sealed (32 bytes of MAC, then the artifact); a snapshot's
fields get one MAC over all of them (:func:`fields_mac`). Whoever can write to
Redis but lacks the secret can then no longer make a TaskManager or JobManager
unpickle bytes of their choosing: the seal is checked before ``pickle.loads``.

>>> sealed = seal(b"k", b"artifact")
>>> unseal(b"k", sealed, "job 1's artifact")
b'artifact'
>>> unseal(b"k", sealed[:-1] + b"!", "job 1's artifact")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
strom.errors.TamperedDataError: job 1's artifact fails its HMAC: changed outside Strom, or sealed with...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from prometheus_client import Counter

from strom.errors import TamperedDataError

MAC_BYTES = 32

#: Seals that did not match, per process, by what the bytes were (``artifact``, ``buffer``,
#: ``snapshot``, ``control``): tampering, or a process with another cluster secret. Served by
#: every service's /metrics (:class:`~strom.metrics.reporter.MetricsReporter`).
SEAL_FAILURES = Counter("strom_seal_failures", "Bytes refused because their HMAC-SHA256 did not match, by kind",
                        ["kind"], registry=None)


def mac(secret: bytes, data: bytes | memoryview) -> bytes:
    return hmac.new(secret, data, hashlib.sha256).digest()


def seal(secret: bytes, data: bytes) -> bytes:
    """``data`` prefixed with its MAC."""
    return mac(secret, data) + data


def unseal(secret: bytes, sealed: bytes, where: str, kind: str = "artifact") -> bytes:
    """The data of a :func:`seal`; raises :class:`TamperedDataError` naming ``where`` if the MAC
    does not match (and counts it in :data:`SEAL_FAILURES` under ``kind``)."""
    return bytes(verified(secret, sealed, where, kind))


def verified(secret: bytes, sealed: bytes, where: str, kind: str = "buffer") -> memoryview:
    """:func:`unseal` without copying the data (a view of ``sealed``), for the record path."""
    view = memoryview(sealed)
    if len(view) < MAC_BYTES or not hmac.compare_digest(view[:MAC_BYTES], mac(secret, view[MAC_BYTES:])):
        SEAL_FAILURES.labels(kind).inc()
        raise TamperedDataError(f"{where} fails its HMAC: changed outside Strom, or sealed with another "
                                f"cluster secret")
    return view[MAC_BYTES:]


def fields_mac(secret: bytes, fields: Mapping[str, bytes] | Mapping[bytes, bytes]) -> bytes:
    """One MAC over a hash's fields (names and values, length-prefixed, in name order), so no field
    can be changed, added, dropped or renamed unnoticed."""
    digest = hmac.new(secret, digestmod=hashlib.sha256)
    for name, value in sorted((n.encode() if isinstance(n, str) else n, v) for n, v in fields.items()):
        for part in (name, value):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.digest()
