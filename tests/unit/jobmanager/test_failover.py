"""Restart strategies and the failover's choice of checkpoint, without Kafka or Redis."""

import pytest

from strom.checkpoint.config import RestartStrategies, RestartStrategyConfiguration
from strom.checkpoint.memory_store import InMemoryCheckpointStore
from strom.errors import ConfigError, TaskFailureCause
from strom.jobmanager.failover import Failover, restart_strategy


@pytest.mark.parametrize("strategy, failures, expected", [
    (RestartStrategies.fixed_delay_restart(2, 100), [0, 10, 20], [100, 100, None]),
    (RestartStrategies.failure_rate_restart(2, 1000, 50), [0, 100, 200, 5000], [50, 50, None, 50]),
    (RestartStrategies.exponential_delay_restart(100, 350, 2.0, 10_000), [0, 1, 2, 3, 20_000],
     [100, 200, 350, 350, 100]),
    (RestartStrategies.no_restart(), [0], [None]),
])
def test_restart_strategies(strategy, failures, expected):
    restart = restart_strategy(strategy)
    assert [restart.on_failure(t) for t in failures] == expected


def test_fixed_delay_reason_names_the_strategy():
    restart = restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    restart.on_failure(0)
    assert restart.on_failure(1) is None
    assert restart.reason_exhausted == "fixed-delay restart strategy exhausted after 1 restarts"


def test_an_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown restart strategy 'sometimes'"):
        restart_strategy(RestartStrategyConfiguration("sometimes"))


def test_the_final_error_names_the_exhausted_strategy_unless_there_is_none():
    failover = Failover(RestartStrategies.fixed_delay_restart(0, 0))
    assert failover.on_failure("task v1[0]#0 failed", 0) is None
    assert failover.final_error("boom") == "boom (fixed-delay restart strategy exhausted after 0 restarts)"
    assert Failover(RestartStrategies.no_restart()).final_error("boom") == "boom"
    assert failover.recent_failures() == ["task v1[0]#0 failed"]


def completed_checkpoint(store: InMemoryCheckpointStore, vertices: dict[str, int], snapshots: bool = True) -> int:
    """A checkpoint every task of ``vertices`` (id -> parallelism) acked, with or without its snapshots."""
    checkpoint_id = store.claim(0, -1, 0, 60_000, join=False)
    tasks = [(v, i) for v, p in vertices.items() for i in range(p)]
    for v, i in tasks:
        if snapshots:
            store.write_snapshot(checkpoint_id, v, i, {"offsets": b"{}"})
        store.acknowledge(0, checkpoint_id, f"{v}[{i}]#0", 2, len(tasks), 10)
    return checkpoint_id


def test_restores_the_newest_checkpoint_whose_snapshots_are_all_there():
    store = InMemoryCheckpointStore()
    store.set_generation(0)
    vertices = {"v1": 2, "v2": 1}
    good = completed_checkpoint(store, vertices)
    bad = completed_checkpoint(store, vertices, snapshots=False)
    assert store.completed_ids() == [good, bad]
    failover = Failover(RestartStrategies.no_restart())
    assert failover.checkpoint_to_restore(store, list(vertices.items())) == good
    assert failover.bad_checkpoints == {bad}
    assert failover.failure_history == [f"checkpoint {bad}: snapshot of task v1[0], v1[1], v2[0] missing"]


def test_a_checkpoint_that_failed_to_restore_is_passed_over_next_time():
    store = InMemoryCheckpointStore()
    store.set_generation(0)
    older, newer = completed_checkpoint(store, {"v1": 1}), completed_checkpoint(store, {"v1": 1})
    failover = Failover(RestartStrategies.no_restart())
    failover.on_task_failed(TaskFailureCause.CHECKPOINT_CORRUPTED, newer)
    failover.on_task_failed(TaskFailureCause.EXCEPTION, older)  # not its checkpoint's fault
    assert failover.checkpoint_to_restore(store, [("v1", 1)]) == older
    assert failover.failure_history == [f"checkpoint {newer} failed to restore before"]


def test_an_unrecoverable_task_failure_fails_the_job_whatever_the_strategy_allows():
    failover = Failover(RestartStrategies.fixed_delay_restart(100, 0))
    assert failover.on_failure("a task raised", 0) == 0
    failover.on_task_failed(TaskFailureCause.UNRECOVERABLE, restored_from=3)
    assert failover.on_failure("sink marker ahead of checkpoint 3", 1) is None
    assert failover.final_error("sink marker ahead of checkpoint 3") == "sink marker ahead of checkpoint 3"
    assert 3 not in failover.bad_checkpoints  # the checkpoint is fine; the output is ahead of it


def test_the_sink_marker_error_is_reported_as_unrecoverable():
    from strom.errors import SinkMarkerError
    assert TaskFailureCause.of(SinkMarkerError("marker 9 > checkpoint 7")) is TaskFailureCause.UNRECOVERABLE


def test_the_default_exponential_delay_gives_up_after_its_attempts_in_a_row_but_not_over_weeks():
    strategy = restart_strategy(RestartStrategies.exponential_delay_restart(100, 10_000, 2.0, 3_600_000))
    assert [strategy.on_failure(t) for t in range(30)][:8] == [100, 200, 400, 800, 1600, 3200, 6400, 10_000]
    assert strategy.on_failure(31) is None  # a record that raises every time: the job fails
    assert "exhausted after 30 restarts without 3600000 ms of failure-free running" in strategy.reason_exhausted
    weekly = restart_strategy(RestartStrategies.exponential_delay_restart(100, 10_000, 2.0, 3_600_000))
    hours = [h * 3_600_000 for h in range(200)]  # one TaskManager loss an hour for 8 days
    assert all(weekly.on_failure(t) == 100 for t in hours)
