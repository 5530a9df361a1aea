"""Records held back during barrier alignment, bounded in memory (Flink spilled them too, before
unaligned checkpoints).

An aligned task holds back what its blocked channels deliver until the checkpoint's last barrier
arrives. A slow upstream subtask can make that a lot; pausing the partition would not help, as
one partition carries the channels of every upstream subtask and would hide the barriers still
to come. So the first ``max_memory_bytes`` stay in memory and the rest go, in arrival order, to
an unnamed temporary file that is gone once replayed (or when the process dies).
"""

from __future__ import annotations

import pickle
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

from confluent_kafka import Message

#: Bytes counted per held record besides its key and value (offsets, headers, object overhead).
RECORD_OVERHEAD_BYTES = 200


def held_size(message: Any) -> int:
    """Bytes a held Kafka message is counted for: key + value + :data:`RECORD_OVERHEAD_BYTES`."""
    return len(message.value() or b"") + len(message.key() or b"") + RECORD_OVERHEAD_BYTES


class SpillingBuffer:
    """Kafka messages in arrival order, at most ``max_memory_bytes`` of them in memory (as
    counted by :func:`held_size`), the rest spilled to a temporary file in ``directory`` (None:
    the system's). Iterating yields them all once, in order; ``spilled``: records on disk.

    >>> buffer = SpillingBuffer(max_memory_bytes=500)
    >>> for offset in range(3):
    ...     buffer.append(Message(topic="t", partition=0, offset=offset, value=b"x" * 100))
    >>> len(buffer), buffer.spilled, [m.offset() for m in buffer]
    (3, 2, [0, 1, 2])
    """

    def __init__(self, max_memory_bytes: int, directory: str | None = None) -> None:
        self.max_memory_bytes, self.directory = max_memory_bytes, directory
        self.memory: deque[Any] = deque()
        self.memory_bytes = 0
        self.spilled = 0
        self._file: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self.memory) + self.spilled

    def __bool__(self) -> bool:
        return len(self) > 0

    def append(self, message: Any) -> None:
        size = held_size(message)
        if self._file is None and self.memory_bytes + size <= self.max_memory_bytes:
            self.memory.append(message)
            self.memory_bytes += size
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115 - closed after replay
        pickle.dump({"topic": message.topic(), "partition": message.partition(), "offset": message.offset(),
                     "key": message.key(), "value": message.value(), "headers": message.headers(),
                     "timestamp": message.timestamp()}, self._file, protocol=5)
        self.spilled += 1

    def __iter__(self) -> Iterator[Any]:
        yield from self.memory
        if self._file is None:
            return
        self._file.seek(0)
        try:
            for _ in range(self.spilled):
                yield Message(**pickle.load(self._file))  # our own file, written above
        finally:
            self._file.close()
