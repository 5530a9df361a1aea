"""The job status transition table and the execution states."""

import json

import pytest

from strom.errors import IllegalTransitionError, JobStateError, StromError
from strom.states import JOB_TRANSITIONS, TERMINAL_EXECUTION_STATES, ExecutionState, JobStatus


def test_every_status_has_a_row_and_terminal_ones_lead_nowhere():
    assert set(JOB_TRANSITIONS) == set(JobStatus)
    for status in JobStatus:
        assert (JOB_TRANSITIONS[status] == frozenset()) == status.is_globally_terminal


@pytest.mark.parametrize("path", [
    ["CREATED", "RUNNING", "FINISHED"],
    ["CREATED", "RUNNING", "RESTARTING", "RUNNING", "FAILING", "FAILED"],
    ["CREATED", "RUNNING", "CANCELING", "CANCELED"],
    ["CREATED", "FAILING", "FAILED"],                      # the job's setup failed
    ["CREATED", "RECONCILING", "RUNNING", "FINISHED"],     # a new leader re-attached
    ["CREATED", "RECONCILING", "RESTARTING", "RUNNING"],
    ["CREATED", "RECONCILING", "CANCELED"],                # the old leader was canceling it
])
def test_the_job_master_s_paths_are_allowed(path):
    status = JobStatus(path[0])
    for target in path[1:]:
        status = status.check_transition(JobStatus(target))
    assert status == path[-1]


@pytest.mark.parametrize("source, target", [
    ("FINISHED", "RUNNING"), ("CANCELED", "RESTARTING"), ("FAILING", "RUNNING"), ("CANCELING", "FAILING"),
    ("RUNNING", "CREATED"), ("RESTARTING", "FINISHED"),
])
def test_an_illegal_transition_raises(source, target):
    with pytest.raises(IllegalTransitionError, match=f"from {source} to {target}"):
        JobStatus(source).check_transition(JobStatus(target))
    assert issubclass(IllegalTransitionError, JobStateError) and issubclass(IllegalTransitionError, StromError)


def test_states_are_their_wire_strings():
    assert JobStatus.CANCELING == "CANCELING" and f"{JobStatus.RECONCILING}" == "RECONCILING"
    assert json.dumps({ExecutionState.RUNNING: JobStatus.FAILED}) == '{"RUNNING": "FAILED"}'
    assert ExecutionState("END_OF_DATA") is ExecutionState.END_OF_DATA
    assert {"FINISHED", "CANCELED", "FAILED"} == TERMINAL_EXECUTION_STATES
    assert not ExecutionState.END_OF_DATA.is_terminal
