"""Task metric rates, Flink's vertex REST bodies and the progress line, from plain samples (no services)."""

from prometheus_client.core import CounterMetricFamily

from strom.client.progress import progress_line
from strom.jobmanager.vertex_metrics import aggregate, backpressure, flink_name, subtask_values, watermarks
from strom.metrics.fetcher import Sample
from strom.metrics.task import TaskMetrics


def sample(name: str, subtask: int, value: float, vertex: str = "v1", **labels: str) -> Sample:
    return Sample(name, {"task_id": vertex, "subtask_index": str(subtask), **labels}, value)


def test_rates_are_taken_over_the_sampled_window_only():
    metrics = TaskMetrics()
    assert metrics.rates()["in"] == 0.0  # one sample: no rate yet
    for second in range(8):  # 100 records/s, then the window (6 samples) forgets the start
        metrics.sample(records_in=100 * second, records_out=0, idle_s=0.25 * second, back_pressured_s=0.0,
                       now_s=float(second))
    rates = metrics.rates()
    assert rates["in"] == 100.0 and rates["idle_ms"] == 250.0 and rates["busy_ms"] == 750.0


def test_librdkafka_statistics_give_bytes_and_partition_ends():
    metrics = TaskMetrics()
    metrics.on_consumer_statistics('{"rxmsg_bytes": 1234, "topics": {"in": {"partitions": {'
                                   '"0": {"hi_offset": 50, "ls_offset": 40}, "-1": {"hi_offset": 9}}}}}')
    metrics.on_producer_statistics('{"name": "p1", "txmsg_bytes": 10}')
    metrics.on_producer_statistics('{"name": "p2", "txmsg_bytes": 5}')
    assert metrics.bytes_in == 1234 and sum(metrics.bytes_out.values()) == 15
    assert metrics.partition_ends == {("in", 0): 40}  # read_committed reaches the last stable offset


def test_flink_names_drop_prefix_and_units():
    assert flink_name("strom_task_numRecordsIn_total") == "numRecordsIn"
    assert flink_name("strom_task_currentInputWatermark_seconds") == "currentInputWatermark"
    assert flink_name("strom_source_pendingRecords") == "pendingRecords"


def test_subtask_values_sum_partitions_and_show_watermarks_in_ms():
    samples = [sample("strom_source_pendingRecords", 0, 5, topic="t", partition="0"),
               sample("strom_source_pendingRecords", 0, 7, topic="t", partition="1"),
               sample("strom_task_currentOutputWatermark_seconds", 0, 1.5),
               sample("strom_task_currentInputWatermark_seconds", 1, float("nan")),
               sample("strom_task_numRecordsIn_total", 0, 3, vertex="v2")]
    assert subtask_values(samples, "v1") == {0: {"pendingRecords": 12.0, "currentOutputWatermark": 1500.0}}
    assert watermarks(samples, "v1") == [{"id": "0.currentOutputWatermark", "value": "1500"}]


def test_aggregate_lists_names_or_gives_min_max_avg_sum():
    samples = [sample("strom_task_numRecordsIn_total", i, v) for i, v in ((0, 10), (1, 30))]
    assert aggregate(samples, "v1", None) == [{"id": "numRecordsIn"}]
    assert aggregate(samples, "v1", ["numRecordsIn", "unknown"]) == [
        {"id": "numRecordsIn", "min": 10, "max": 30, "avg": 20, "sum": 40}]


def test_backpressure_levels_follow_flinks_thresholds():
    samples = [sample("strom_task_backPressuredTimeMsPerSecond", i, ms) for i, ms in enumerate((100, 101, 500, 501))]
    body = backpressure(samples, "v1", now_ms=7)
    assert [s["backpressure-level"] for s in body["subtasks"]] == ["ok", "low", "low", "high"]
    assert body["backpressure-level"] == "high" and body["end-timestamp"] == 7
    assert backpressure([], "v1", now_ms=0)["backpressure-level"] == "ok"


def test_progress_line_counts_sources_in_and_sinks_out():
    details = {"vertices": [{"id": "v1", "metrics": {"read-records": 1000, "read-records-per-second": 50,
                                                     "pending-records": 3, "write-records": 9000}},
                            {"id": "v2", "metrics": {"read-records": 9000, "write-records": 8000,
                                                     "write-records-per-second": 400}}],
               "plan": {"nodes": [{"id": "v1", "inputs": []}, {"id": "v2", "inputs": [{"id": "v1"}]}]},
               "checkpoints": {"latest": {"completed": {"id": 4, "duration": 120, "state-size": 2048}}}}
    assert progress_line(details) == ("in 1,000 records (50/s), out 8,000 (400/s), source lag 3 records, "
                                      "checkpoint 4 (120 ms, 2 KiB)")


def test_counter_families_get_the_total_suffix():  # what the names in the README rely on
    family = CounterMetricFamily("strom_task_numRecordsIn", "doc", labels=["a"])
    family.add_metric(["x"], 1)
    assert [s.name for s in family.samples] == ["strom_task_numRecordsIn_total"]
