"""Every role's endpoint has a handler for every message its control topic carries: adding a
message type without a handler in each receiving role fails here."""

import pytest

from strom.config import Configuration, RestOptions
from strom.control.messages import MESSAGES, received_by
from strom.control.roles import Role
from strom.jobmanager.endpoint import JobManager
from strom.resourcemanager.resource_manager import ResourceManager
from strom.taskmanager.artifacts import JobArtifacts
from strom.taskmanager.task_executor import TaskExecutor

ENDPOINTS = {
    Role.JOBMANAGER: lambda config: JobManager(config),
    Role.RESOURCEMANAGER: lambda config: ResourceManager(config),
    Role.TASKMANAGER: lambda config: TaskExecutor(config, None, JobArtifacts(lambda _job: None), None),
}


@pytest.mark.parametrize("role", sorted(ENDPOINTS))
def test_handler_table_covers_every_message_the_role_receives(role):
    # REST on any free port: the test suite's own JobManager holds the default one.
    endpoint = ENDPOINTS[role](Configuration({RestOptions.PORT.key: 0, RestOptions.TOKEN.key: "unit-test"}, env={}))
    assert endpoint.role is role
    assert set(endpoint.handlers()) == received_by(role)


def test_every_message_has_a_receiver_with_an_endpoint_or_is_a_client_reply():
    for cls in MESSAGES.values():
        assert cls.receivers, cls.__name__
        assert cls.receivers <= set(ENDPOINTS) | {Role.CLIENT}, cls.__name__
    assert received_by(Role.CLIENT) == {MESSAGES["StatusReply"]}
