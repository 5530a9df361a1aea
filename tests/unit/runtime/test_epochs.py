"""An exactly-once sink's epoch chunks (strom.runtime.epochs): what goes in comes out, in order."""

from __future__ import annotations

import pickle

from strom.runtime.epochs import Epoch, chunk_bytes, records


def test_a_chunk_round_trips_through_pickle_with_empty_and_missing_keys():
    epoch = Epoch()
    written = [(b"", b"empty key", 1), (None, b"no key", 0), (b"k" * 70_000, b"", 2**40), (b"a", b"v" * 3, -1)]
    for key, value, timestamp in written:
        epoch.append(key, value, timestamp)
    assert len(epoch) == 4
    chunk = pickle.loads(pickle.dumps(epoch.chunk(), protocol=5))
    assert list(records(chunk)) == written
    assert chunk_bytes(chunk) == sum(len(v) + len(k or b"") for k, v, _ts in written)


def test_an_empty_epoch_and_a_snapshot_of_before_chunks():
    assert list(records(Epoch().chunk())) == []
    legacy = [(b"k", b"v", 0), (None, b"w", 5)]  # epochs in snapshots taken before chunks
    assert list(records(legacy)) == legacy and chunk_bytes(legacy) == 3
