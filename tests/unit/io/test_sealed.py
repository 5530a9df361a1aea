"""Seals (strom.io.sealed): what fails its MAC is refused and counted by kind."""

from __future__ import annotations

import pytest

from strom.errors import TamperedDataError
from strom.io.sealed import SEAL_FAILURES, seal, unseal, verified


def failures(kind: str) -> float:
    return SEAL_FAILURES.labels(kind)._value.get()


def test_a_changed_byte_another_secret_or_a_short_value_is_refused_and_counted():
    sealed = seal(b"secret", b"artifact bytes")
    assert unseal(b"secret", sealed, "job 1's artifact") == b"artifact bytes"
    before_artifact, before_buffer = failures("artifact"), failures("buffer")
    for secret, data in ((b"secret", sealed[:-1] + b"!"), (b"other", sealed), (b"secret", sealed[:10])):
        with pytest.raises(TamperedDataError, match="job 1's artifact fails its HMAC"):
            unseal(secret, data, "job 1's artifact")
    with pytest.raises(TamperedDataError, match="buffer t/0/8"):
        verified(b"secret", sealed[:-1] + b"!", "buffer t/0/8")
    assert failures("artifact") == before_artifact + 3
    assert failures("buffer") == before_buffer + 1
