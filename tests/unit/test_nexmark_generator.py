"""examples/nexmark/generator.py: Nexmark's proportions, ids, hot ratios, prices, times and sizes,
checked on the events themselves, and determinism for a seed."""

from __future__ import annotations

import doctest
import importlib.util
import json
import math
import sys
from collections import Counter
from pathlib import Path
from statistics import mean

import pytest

PATH = Path(__file__).resolve().parents[2] / "examples" / "nexmark" / "generator.py"
spec = importlib.util.spec_from_file_location("nexmark_generator", PATH)
generator = sys.modules["nexmark_generator"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generator)

BASE = 1_767_225_600_000
COUNT = 50_000


@pytest.fixture(scope="module")
def events() -> list[tuple[int, dict]]:
    """50,000 events at 1,000 events/s (50 s of event time)."""
    return list(generator.NexmarkGenerator(generator.GeneratorConfig(base_time=BASE, rate=1000, seed=7)).events(COUNT))


def of_type(events, field: str) -> list[dict]:
    return [event[field] for _, event in events if event[field] is not None]


def test_the_docstring_examples_run():
    assert doctest.testmod(generator).failed == 0


def test_the_same_seed_gives_the_same_records_and_another_seed_others():
    def records(seed: int) -> list[tuple[int, bytes]]:
        return list(generator.encoded(generator.GeneratorConfig(base_time=BASE, seed=seed), 2000))

    assert records(3) == records(3)
    assert records(3) != records(4)
    assert [ts for ts, _ in records(3)] == [ts for ts, _ in records(4)]  # times depend on the rate alone


def test_persons_auctions_and_bids_come_1_3_46_in_each_50_events(events):
    kinds = [event["event_type"] for _, event in events]
    assert kinds[:50] == [0] + [1] * 3 + [2] * 46
    assert Counter(kinds) == {0: 1000, 1: 3000, 2: 46_000}
    for _, event in events:
        kind = event["event_type"]
        assert [event[f] is not None for f in ("person", "auction", "bid")] == [k == kind for k in range(3)]


def test_event_n_happens_at_n_over_the_rate_and_carries_it(events):
    for number, (timestamp, event) in enumerate(events):
        assert timestamp == BASE + number  # 1,000 events/s: one per ms
        assert (event["person"] or event["auction"] or event["bid"])["dateTime"] == timestamp
    config = generator.GeneratorConfig(base_time=BASE, rate=3000)
    assert [config.timestamp(n) for n in range(7)] == [BASE, BASE, BASE, BASE + 1, BASE + 1, BASE + 1, BASE + 2]


def test_persons_and_auctions_are_numbered_from_1000_in_order(events):
    assert [p["id"] for p in of_type(events, "person")] == list(range(1000, 2000))
    assert [a["id"] for a in of_type(events, "auction")] == list(range(1000, 4000))
    assert [generator.last_person_id(n) for n in (0, 1, 49, 50, 51)] == [0, 0, 0, 1, 1]
    assert [generator.last_auction_id(n) for n in (0, 1, 3, 4, 49, 50, 51)] == [-1, 0, 2, 2, 2, 2, 3]


def hot_share(values: list[int], hot: list[int]) -> float:
    return sum(v == h for v, h in zip(values, hot, strict=True)) / len(values)


def test_hot_sellers_auctions_and_bidders_take_nexmarks_shares(events):
    auctions = [(n, e["auction"]) for n, (_, e) in enumerate(events) if e["auction"]]
    bids = [(n, e["bid"]) for n, (_, e) in enumerate(events) if e["bid"]]
    hot_seller = [generator.last_person_id(n) // 100 * 100 + 1000 for n, _ in auctions]
    hot_auction = [generator.last_auction_id(n) // 100 * 100 + 1000 for n, _ in bids]
    hot_bidder = [generator.last_person_id(n) // 100 * 100 + 1001 for n, _ in bids]
    # 3/4 (1/2) by the ratio, plus the random picks that land on the hot one.
    assert 0.74 < hot_share([a["seller"] for _, a in auctions], hot_seller) < 0.78
    assert 0.49 < hot_share([b["auction"] for _, b in bids], hot_auction) < 0.52
    assert 0.74 < hot_share([b["bidder"] for _, b in bids], hot_bidder) < 0.76


def test_random_ids_stay_among_the_active_ones_or_at_most_10_ahead(events):
    for number, (_, event) in enumerate(events):
        newest_person = generator.last_person_id(number) + 1000
        newest_auction = generator.last_auction_id(number) + 1000
        if bid := event["bid"]:
            assert newest_auction - 100 <= bid["auction"] <= newest_auction + 10
            assert max(newest_person - 1000, 1000) <= bid["bidder"] <= newest_person + 10
        elif auction := event["auction"]:
            assert max(newest_person - 1000, 1000) <= auction["seller"] <= newest_person + 10
    ahead = [b["auction"] for n, (_, e) in enumerate(events) if (b := e["bid"])
             and b["auction"] > generator.last_auction_id(n) + 1000]
    assert ahead, "some bids are on auctions not created yet"


def test_prices_are_log_uniform_from_1_dollar_to_1_million(events):
    prices = [b["price"] for b in of_type(events, "bid")]
    assert min(prices) >= 100 and max(prices) <= 100_000_000
    decades = Counter(int(math.log10(p / 100)) for p in prices if p < 100_000_000)
    assert sorted(decades) == [0, 1, 2, 3, 4, 5]
    assert all(abs(share / len(prices) - 1 / 6) < 0.01 for share in decades.values())
    for auction in of_type(events, "auction"):
        assert auction["reserve"] - auction["initialBid"] >= 100


def test_categories_states_cities_and_channels_are_uniform(events):
    auctions, persons, bids = of_type(events, "auction"), of_type(events, "person"), of_type(events, "bid")
    categories = Counter(a["category"] for a in auctions)
    assert sorted(categories) == [10, 11, 12, 13, 14] and min(categories.values()) > 500
    assert set(Counter(p["state"] for p in persons)) == set(generator.US_STATES)
    assert set(Counter(p["city"] for p in persons)) == set(generator.US_CITIES)
    channels = Counter(b["channel"] for b in bids)
    assert 0.49 < sum(channels[c] for c in generator.HOT_CHANNELS) / len(bids) < 0.51
    assert all(b["url"].startswith("https://www.nexmark.com/") for b in bids)


def test_auctions_expire_within_twice_the_time_of_100_more_auctions(events):
    horizon = 1666  # ms: 100 auctions = 1666 events at 1 event/ms
    lengths = [a["expires"] - a["dateTime"] for a in of_type(events, "auction")]
    assert min(lengths) >= 1 and max(lengths) <= 2 * horizon
    assert abs(mean(lengths) - horizon) < 50


def test_events_are_padded_to_nexmarks_average_sizes(events):
    """nexmark-flink's sizes count numbers as 8 bytes; the JSON is larger, the extra the same."""
    extras = {field: mean(len(r["extra"]) for r in of_type(events, field)) for field in ("person", "auction", "bid")}
    assert 60 <= extras["bid"] <= 76  # 100 - 32, ±20 %
    assert extras["auction"] > 300 and extras["person"] > 100
    assert all(" " not in json.dumps(r["extra"]) for r in of_type(events, "bid"))
