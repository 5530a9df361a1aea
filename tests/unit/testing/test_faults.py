"""The runtime's fault hook does nothing until strom.testing arms it from STROM_FAULT_INJECT."""

import subprocess
import sys

import pytest

from strom import fault_points
from strom.testing.faults import FaultInjection, arm_from_env


@pytest.fixture(autouse=True)
def disarmed():
    fault_points.arm(None)
    yield
    fault_points.arm(None)


def test_unarmed_hook_does_nothing():
    for step in fault_points.STEPS:
        fault_points.inject(step)


def test_nothing_is_armed_without_the_variable():
    assert arm_from_env({}) is None
    assert fault_points._handler is None


def test_armed_handler_hears_every_step():
    heard = []
    fault_points.arm(heard.append)
    fault_points.inject("after-barrier")
    fault_points.inject("after-ack")
    assert heard == ["after-barrier", "after-ack"]


def test_spec_is_checked():
    assert FaultInjection.parse("after-ack").step == "after-ack"
    with pytest.raises(ValueError, match="unknown step 'after-barier'"):
        FaultInjection.parse("after-barier:2")
    with pytest.raises(ValueError, match="count"):
        FaultInjection.parse("after-ack:0")


def test_process_dies_at_the_nth_time_like_kill_9():
    code = ("from strom import fault_points; from strom.testing.faults import arm_from_env\n"
            "arm_from_env({'STROM_FAULT_INJECT': 'after-ack:2'})\n"
            "fault_points.inject('after-barrier'); fault_points.inject('after-ack'); print('survived once')\n"
            "fault_points.inject('after-ack'); print('not reached')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 137
    assert result.stdout == "survived once\n" and "dying at after-ack" in result.stderr
