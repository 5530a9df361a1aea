"""Job and execution states, declared once (Flink's ``JobStatus`` and ``ExecutionState``).

Both are :class:`enum.StrEnum`: a member *is* its string ("RUNNING"), so it
goes over the wire, into Redis and into REST bodies unchanged, and compares
equal to the plain strings clients and older code use.

A job's status only moves along :data:`JOB_TRANSITIONS`;
:meth:`JobStatus.check_transition` raises :class:`~strom.errors.IllegalTransitionError`
for anything else.

>>> JobStatus.RUNNING == "RUNNING", JobStatus.FINISHED.is_globally_terminal
(True, True)
>>> JobStatus.CANCELING.can_transition_to(JobStatus.RUNNING)
False
>>> ExecutionState("FAILED").is_terminal
True
"""

from __future__ import annotations

import enum

from strom.errors import IllegalTransitionError


class JobStatus(enum.StrEnum):
    """The status of a job as the JobManager sees it."""

    CREATED = "CREATED"          # submitted, topics and slots not set up yet
    RUNNING = "RUNNING"          # scheduled: slots requested, tasks deploying or running
    FAILING = "FAILING"          # failed for good; its subtasks are being canceled
    FAILED = "FAILED"
    CANCELING = "CANCELING"      # canceled by the user; its subtasks are being canceled
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"        # every subtask finished (bounded input)
    RESTARTING = "RESTARTING"    # waiting out the restart strategy's delay after a failure
    RECONCILING = "RECONCILING"  # a new leader collecting TaskManagers' reports to re-attach

    @property
    def is_globally_terminal(self) -> bool:
        """True for FINISHED, FAILED and CANCELED: the job never runs again (and is never recovered)."""
        return self in TERMINAL_JOB_STATES

    def can_transition_to(self, target: JobStatus) -> bool:
        """Whether :data:`JOB_TRANSITIONS` allows moving from this status to ``target``."""
        return target in JOB_TRANSITIONS[self]

    def check_transition(self, target: JobStatus) -> JobStatus:
        """Return ``target`` if the job may move there from this status; raises
        :class:`~strom.errors.IllegalTransitionError` otherwise."""
        if not self.can_transition_to(target):
            raise IllegalTransitionError(f"job status cannot go from {self} to {target}")
        return target


TERMINAL_JOB_STATES = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED})

# What the JobMaster does: CREATED -> RUNNING on start (FAILING if setup fails); a failure moves
# RUNNING -> RESTARTING -> RUNNING, or RUNNING -> FAILING -> FAILED once the restart strategy gives
# up; a cancel moves any live status to CANCELING -> CANCELED. A JobMaster built by a new leader
# goes CREATED -> RECONCILING and from there re-attaches (RUNNING), restarts (RESTARTING) or ends
# what the old leader was ending (CANCELED, FAILED).
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CREATED: frozenset({JobStatus.RUNNING, JobStatus.FAILING, JobStatus.CANCELING,
                                  JobStatus.RECONCILING}),
    JobStatus.RUNNING: frozenset({JobStatus.FINISHED, JobStatus.FAILING, JobStatus.CANCELING,
                                  JobStatus.RESTARTING}),
    JobStatus.RESTARTING: frozenset({JobStatus.RUNNING, JobStatus.FAILING, JobStatus.CANCELING}),
    JobStatus.RECONCILING: frozenset({JobStatus.RUNNING, JobStatus.RESTARTING, JobStatus.CANCELING,
                                      JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.FAILING: frozenset({JobStatus.FAILED}),
    JobStatus.CANCELING: frozenset({JobStatus.CANCELED}),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
    JobStatus.FINISHED: frozenset(),
}


class ExecutionState(enum.StrEnum):
    """The state of one subtask's execution attempt, as its TaskManager reports it."""

    CREATED = "CREATED"
    SCHEDULED = "SCHEDULED"
    DEPLOYING = "DEPLOYING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    # Reported by a checkpointing task that processed all its input; it stays RUNNING for the
    # final checkpoint, so the JobManager records it as a flag, never as the subtask's state.
    END_OF_DATA = "END_OF_DATA"

    @property
    def is_terminal(self) -> bool:
        """True for FINISHED, CANCELED and FAILED: the attempt's thread is gone."""
        return self in TERMINAL_EXECUTION_STATES


TERMINAL_EXECUTION_STATES = frozenset({ExecutionState.FINISHED, ExecutionState.CANCELED, ExecutionState.FAILED})
