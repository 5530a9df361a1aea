from strom.control.codec import ControlMessage
from strom.control.fencing import FencingGuard
from strom.control.roles import Role

SENT_BY = {Role.JOBMANAGER: "CancelTask", Role.RESOURCEMANAGER: "AllocateSlot", Role.TASKMANAGER: "Heartbeat",
           Role.CLIENT: "StatusRequest"}


def msg(role, token, sender="x", kind=None):
    return ControlMessage(type=kind or SENT_BY[role], sender_id=sender, sender_role=role, seq=1,
                          body={}, fencing_token=token)


def test_stale_token_is_rejected_after_newer_leader_observed():
    guard = FencingGuard()
    guard.observe(Role.JOBMANAGER, 3)
    assert guard.check(msg(Role.JOBMANAGER, 3)) is None
    reason = guard.check(msg(Role.JOBMANAGER, 2, "jm-old"))
    assert "stale fencing token 2" in reason and "jm-old" in reason
    assert guard.rejected == 1


def test_newer_token_in_a_message_raises_the_bar():
    guard = FencingGuard()
    guard.observe(Role.RESOURCEMANAGER, 1)
    assert guard.check(msg(Role.RESOURCEMANAGER, 5)) is None
    assert guard.newest(Role.RESOURCEMANAGER) == 5
    assert guard.check(msg(Role.RESOURCEMANAGER, 4)) is not None


def test_roles_are_fenced_independently_and_observe_never_lowers():
    guard = FencingGuard()
    guard.observe(Role.JOBMANAGER, 9)
    guard.observe(Role.JOBMANAGER, 4)
    assert guard.newest(Role.JOBMANAGER) == 9
    assert guard.check(msg(Role.RESOURCEMANAGER, 1)) is None


def test_leader_roles_need_a_token_others_do_not():
    guard = FencingGuard()
    assert "without fencing token" in guard.check(msg(Role.JOBMANAGER, None))
    assert guard.check(msg(Role.TASKMANAGER, None)) is None
    assert guard.check(msg(Role.CLIENT, None)) is None


def test_a_message_type_is_taken_only_from_the_roles_that_send_it():
    guard = FencingGuard()
    guard.observe(Role.JOBMANAGER, 1)
    assert "CancelTask is not accepted from a CLIENT" in guard.check(msg(Role.CLIENT, None, "intruder", "CancelTask"))
    assert guard.check(msg(Role.TASKMANAGER, None, kind="DeployTask")) is not None
    assert guard.check(msg(Role.JOBMANAGER, 1, kind="Heartbeat")) is not None
    assert guard.check(msg(Role.JOBMANAGER, 1, kind="DeployTask")) is None  # the leader's still goes
    assert guard.rejected == 3


def test_a_token_above_the_newest_known_is_believed_only_if_zookeeper_confirms_it():
    zookeeper = {Role.JOBMANAGER: 4}
    guard = FencingGuard(confirm=lambda role, token: zookeeper.get(role, -1) >= token)
    guard.observe(Role.JOBMANAGER, 3)
    forged = guard.check(msg(Role.JOBMANAGER, 2**63 - 1, "intruder"))
    assert "is not a leader epoch ZooKeeper knows" in forged
    assert guard.newest(Role.JOBMANAGER) == 3  # the forged token raised nothing
    assert guard.check(msg(Role.JOBMANAGER, 4)) is None  # the real new leader, ahead of the ZooKeeper watch
    assert guard.check(msg(Role.JOBMANAGER, 3)) is not None
