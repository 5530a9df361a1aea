"""How a task fails: a user function raised, or a newer attempt replaced it."""

from __future__ import annotations

import traceback
from typing import Any

from strom.errors import StaleAttemptError, StromError


class TaskFailure(StromError):
    """A user function raised; the message names the operator chain and the record position."""

    @classmethod
    def of(cls, exc: Exception, chain_name: str, execution_id: str, record: Any) -> TaskFailure:
        """The failure of ``exc``, raised by ``chain_name`` on Kafka message ``record``."""
        return cls(f"{type(exc).__name__}: {exc} in '{chain_name}' ({execution_id}) on the record at "
                   f"{record.topic()}/{record.partition()}/{record.offset()}\n{traceback.format_exc(limit=6)}")


class ReplacedAttemptError(StaleAttemptError):
    """The job runs a newer attempt than this task's: the task stops without touching anything.
    Reported as FAILED: the JobManager ignores it for an old attempt and restarts the job if it
    is the current one (Redis lost the attempt it wrote)."""
