from strom.testing.drill import CommittedOutputMonitor, DrillResult, judge

LINES = [b"god", b"said", b"god", b"light"]


def records(pairs):
    return [(w.encode(), str(n).encode()) for w, n in pairs]


def test_exactly_once_output_is_ok():
    result = DrillResult("x", state="FINISHED")
    judge(records([("god", 1), ("said", 1), ("god", 2), ("light", 1)]), LINES, result)
    assert result.ok and "OK" in result.line(1.0)


def test_lost_and_duplicated_counts_are_named():
    result = DrillResult("x", state="FINISHED")
    judge(records([("god", 1), ("god", 1), ("said", 1), ("light", 1)]), LINES, result)
    assert (result.lost, result.duplicated) == (1, 1) and not result.ok
    assert "god: 1 duplicated" in result.examples and "god: 1 lost" in result.examples


def test_stall_counts_from_the_fault_to_the_next_output():
    monitor = CommittedOutputMonitor("unused:9092", "t")
    monitor.increases = [10.0, 10.5, 17.0, 17.5]
    assert monitor.longest_gap(None) == 6.5
    assert monitor.longest_gap(11.0) == 6.0
    monitor.increases = [20.0]
    assert monitor.longest_gap(12.0) == 8.0
    assert monitor.longest_gap(12.0, end_at=25.0) == 8.0


def test_no_output_after_the_fault_stalls_until_the_end():
    monitor = CommittedOutputMonitor("unused:9092", "t")
    monitor.increases = [10.0, 10.5]
    assert monitor.longest_gap(11.0, end_at=30.0) == 19.0
    monitor.increases = []
    assert monitor.longest_gap(11.0, end_at=30.0) == 19.0
