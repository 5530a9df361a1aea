from strom.control.codec import ControlMessage
from strom.control.fencing import FencingGuard
from strom.control.roles import Role


def msg(role, token, sender="x"):
    return ControlMessage(type="StatusRequest", sender_id=sender, sender_role=role, seq=1,
                          body={"request_id": "r"}, fencing_token=token)


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
