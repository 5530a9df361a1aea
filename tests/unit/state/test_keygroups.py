import subprocess
import sys

import pytest

from strom.state.keygroups import key_bytes, key_group_for, key_group_range, murmur2, operator_index_for


@pytest.mark.parametrize("data, expected", [
    # Kafka's UtilsTest.testMurmur2 vectors.
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
])
def test_murmur2_matches_kafka(data, expected):
    assert murmur2(data) == expected


KEYS = ["god", "Lord", "ünïcödé", 42, -7, ("word", 3), b"\x00\xff"]
SCRIPT = ("from strom.state.keygroups import key_group_for;"
          f"print([key_group_for(k, 128) for k in {KEYS!r}])")


def test_key_groups_equal_across_processes_and_hash_seeds():
    outputs = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("0", "1", "12345", "random")}
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([key_group_for(k, 128) for k in KEYS])


def test_key_bytes_are_stable_per_type():
    assert key_bytes("a") == b"a" and key_bytes(b"a") == b"a" and key_bytes(12) == b"12"


@pytest.mark.parametrize("max_parallelism, parallelism", [(128, 1), (128, 2), (128, 3), (10, 7), (4, 4)])
def test_key_group_ranges_are_contiguous_and_cover_everything(max_parallelism, parallelism):
    ranges = [key_group_range(max_parallelism, parallelism, i) for i in range(parallelism)]
    assert [kg for r in ranges for kg in r] == list(range(max_parallelism))
    for i, r in enumerate(ranges):
        assert all(operator_index_for(kg, max_parallelism, parallelism) == i for kg in r)


def test_flink_formula_example():
    # Flink: maxParallelism 128, parallelism 3 -> [0..42], [43..85], [86..127]
    assert [(r.start, r.stop - 1) for r in (key_group_range(128, 3, i) for i in range(3))] == \
        [(0, 42), (43, 85), (86, 127)]


def test_bad_subtask_is_rejected():
    with pytest.raises(ValueError):
        key_group_range(4, 8, 0)
