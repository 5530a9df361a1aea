from strom.control.codec import ControlMessage
from strom.control.fencing import FencingGuard


def msg(role, token, sender="x"):
    return ControlMessage(type="StatusRequest", sender_id=sender, sender_role=role, seq=1,
                          body={"request_id": "r"}, fencing_token=token)


def test_stale_token_is_rejected_after_newer_leader_observed():
    guard = FencingGuard()
    guard.observe("JOBMANAGER", 3)
    assert guard.check(msg("JOBMANAGER", 3)) is None
    reason = guard.check(msg("JOBMANAGER", 2, "jm-old"))
    assert "stale fencing token 2" in reason and "jm-old" in reason
    assert guard.rejected == 1


def test_newer_token_in_a_message_raises_the_bar():
    guard = FencingGuard()
    guard.observe("RESOURCEMANAGER", 1)
    assert guard.check(msg("RESOURCEMANAGER", 5)) is None
    assert guard.newest("RESOURCEMANAGER") == 5
    assert guard.check(msg("RESOURCEMANAGER", 4)) is not None


def test_roles_are_fenced_independently_and_observe_never_lowers():
    guard = FencingGuard()
    guard.observe("JOBMANAGER", 9)
    guard.observe("JOBMANAGER", 4)
    assert guard.newest("JOBMANAGER") == 9
    assert guard.check(msg("RESOURCEMANAGER", 1)) is None


def test_leader_roles_need_a_token_others_do_not():
    guard = FencingGuard()
    assert "without fencing token" in guard.check(msg("JOBMANAGER", None))
    assert guard.check(msg("TASKMANAGER", None)) is None
    assert guard.check(msg("CLIENT", None)) is None
