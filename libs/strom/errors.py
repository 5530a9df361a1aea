"""Every error Strom raises on purpose, under one base.

Catch :class:`StromError` for "anything Strom refused", :class:`FencedError`
for "the caller is not (or no longer) the one allowed to do this" (REST
answers 503 with the current leader), :class:`CheckpointError` for a
checkpoint that cannot be used, with its :class:`CheckpointFailureReason`.

Errors that are also bad input subclass :class:`ValueError` (and a lookup
miss :class:`KeyError`) as well, so callers that validate input the Python
way keep working.

>>> isinstance(StaleLeaderError("epoch 3 < 4"), FencedError)
True
>>> CheckpointCorruptedError("chk 7 of v1[0] is missing").reason
<CheckpointFailureReason.CORRUPTED: 'corrupted'>
"""

from __future__ import annotations

import enum


class StromError(Exception):
    """Base of every error Strom raises on purpose."""


# -- input and configuration --------------------------------------------------------------
class ConfigError(StromError, ValueError):
    """A setting has a value of the wrong type or range; the message names the setting."""


class InvalidJobGraphError(StromError, ValueError):
    """A job's graph cannot be run as built (the message says which operator and why)."""


class InvalidArtifactError(StromError, ValueError):
    """A submitted job artifact cannot be read (not a Strom job graph, or a broken payload)."""


class ControlMessageError(StromError, ValueError):
    """A control-topic record is not a valid control message (bad envelope, type or body)."""


# -- jobs and resources ---------------------------------------------------------------------
class UnknownJobError(StromError, KeyError):
    """No job of that id on this cluster (REST: 404)."""


class UnknownSavepointError(StromError, KeyError):
    """No savepoint of that id on this cluster (never taken, or disposed; REST: 404)."""


class JobStateError(StromError):
    """The job is in a state that does not allow the request, e.g. a savepoint of a FINISHED job
    (REST: 409)."""


class IllegalTransitionError(JobStateError):
    """A job status change the transition table (:data:`strom.states.JOB_TRANSITIONS`) does not
    allow, e.g. FINISHED -> RUNNING: a bug in the JobManager, never a user's request."""


class JobSetupError(StromError):
    """The job's topics or offsets could not be set up; the job fails with this message."""


class NoSlotAvailableError(StromError):
    """No registered TaskManager has a free slot for the request."""


class JobClientError(StromError):
    """The REST endpoint refused a client request or could not be reached; carries its message."""


# -- Kafka ----------------------------------------------------------------------------------
class KafkaUnavailableError(StromError):
    """The Kafka cluster did not answer within the timeout (bootstrap servers named)."""


class TopicNotReadyError(StromError):
    """A topic exists but its partitions have no leader yet (just created, or a broker restarted)."""


class StorageConfigError(StromError):
    """Kafka or Redis is set up so that Strom could lose checkpoints or break exactly-once; the
    message names the setting, its value and what to set instead."""


class SinkRecordError(StromError, ValueError):
    """A sink's serializer made something Kafka cannot take: a key or value that is not bytes, or a
    record over the topic's size limit. Raised when the element is collected, so it follows the
    job's error policy and never enters a checkpoint."""


class SinkBufferFullError(StromError):
    """An exactly-once sink holds more un-committed output than ``task.sink.max-buffered-bytes``;
    the message says what to change. Not a record's fault: never dead-lettered."""


class ServiceUnavailableError(StromError):
    """A service a source's deserializer depends on (a schema registry) did not answer, or
    answered with a server error. Not the record's fault: never dead-lettered; the task fails
    and restarts from its last checkpoint, so the record is read again once the service is back."""


class DeliveryFailedError(StromError):
    """Kafka did not take records a task produced (rejected, e.g. too large, or timed out); the
    message names the first such record's topic, partition, key and size and how many failed."""


# -- fencing -----------------------------------------------------------------------------------
class FencedError(StromError):
    """The caller is not, or no longer, the one allowed to act: a non-leader, a deposed leader or
    a task of a replaced attempt. Fencing tokens fence the stale, they authenticate nobody."""


class NotLeaderError(FencedError):
    """This process is not its role's leader (REST: 503 with the leader's address)."""


class StaleLeaderError(FencedError):
    """A write carried a leader epoch older than the newest one that wrote (a deposed leader)."""


class StaleAttemptError(FencedError):
    """A task of an attempt that is no longer the job's current one tried to start or ack a
    checkpoint (Flink's attempt number fences it)."""


# -- checkpoints ------------------------------------------------------------------------------
class CheckpointFailureReason(enum.Enum):
    """Why a checkpoint cannot be used (Flink's ``CheckpointFailureReason``, as far as Strom has them)."""

    CORRUPTED = "corrupted"            # a completed checkpoint's snapshot is missing or unreadable
    DECLINED = "declined"              # a task declined it (its snapshot failed)
    EXPIRED = "expired"                # not completed within execution.checkpointing.timeout
    ABORTED = "aborted"                # the job failed, was canceled or restarted meanwhile


class CheckpointError(StromError):
    """A checkpoint cannot be taken or restored; ``reason`` says why."""

    reason = CheckpointFailureReason.DECLINED

    def __init__(self, message: str, reason: CheckpointFailureReason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class EdgeRecordTooLargeError(StromError, ValueError):
    """One element pickled is larger than a Kafka record on an intermediate topic may be (the
    producer's message.max.bytes): it cannot cross the edge. Fails the task whatever its error
    policy (the element is not the input record the dead-letter topic would name)."""


class LostRecordsError(StromError):
    """A task read a record of an intermediate partition whose sequence number is not the next of
    its upstream subtask's: records (buffers or events) before it never reached Kafka, or were
    reordered. Raised instead of going on without them (Flink's BufferReorderingException); the
    task fails and the job restarts from its last checkpoint, whose upstream tasks write them again."""


class TamperedDataError(StromError):
    """Bytes Strom sealed (a job artifact, a snapshot) fail their HMAC: they were changed outside
    Strom or sealed with another cluster secret. They are never unpickled."""


class CheckpointCorruptedError(CheckpointError):
    """A completed checkpoint's snapshot data is missing or unreadable; names checkpoint and task.
    The job restarts from an older checkpoint (or none)."""

    reason = CheckpointFailureReason.CORRUPTED


class SinkMarkerError(CheckpointError):
    """An exactly-once sink's commit marker in Kafka disagrees with the checkpoint it restores: Kafka
    holds epochs newer than the checkpoint (restoring would write them again), or the marker is
    gone (re-committing would duplicate). The message names the sink, the checkpoint, the marker
    and what to do; the job fails instead of restarting into the same state."""


class TaskFailureCause(enum.Enum):
    """Why a subtask failed, sent with its FAILED TaskExecutionState: the JobManager acts on the
    cause, never on the error text (the Avro enum ``strom.control.TaskFailureCause``)."""

    EXCEPTION = "EXCEPTION"                        # the task raised: restart as the strategy says
    CHECKPOINT_CORRUPTED = "CHECKPOINT_CORRUPTED"  # the checkpoint it restores is unreadable: use an older one
    DEPLOYMENT = "DEPLOYMENT"                      # it never ran: no such slot, or an unusable descriptor or artifact
    UNRECOVERABLE = "UNRECOVERABLE"                # a restart cannot help: fail (Flink: SuppressRestartsException)

    @classmethod
    def of(cls, exc: BaseException) -> TaskFailureCause:
        """The cause a task reports for ``exc``, the error that ended it."""
        if isinstance(exc, CheckpointError) and exc.reason is CheckpointFailureReason.CORRUPTED:
            return cls.CHECKPOINT_CORRUPTED
        if isinstance(exc, SinkMarkerError):
            return cls.UNRECOVERABLE
        return cls.EXCEPTION
