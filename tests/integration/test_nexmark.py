"""Nexmark q0-q8 (examples/nexmark/) on the real stack, each equal to the same query in DuckDB
over the same events: one cluster and one input topic for the module, each query run at
parallelism 2 and its committed output compared, as a multiset, with DuckDB's result.

The events: 10,000 of Nexmark's generator at 200 events/s of event time (50 s: 5 tumbling
windows of 10 s, 29 sliding ones), so every query has output, q8's window join included.
The oracles are nexmark-flink's SQL, with ``TUMBLE``/``HOP`` written out as arithmetic on
``dateTime`` (ms) and q7's window bounds as documented in examples/nexmark/q7.py.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from strom.client.produce import produce_records
from strom.config import KafkaOptions
from strom.io.kafka import read_to_end

from .conftest import TestCluster

ROOT = Path(__file__).resolve().parents[2]
NEXMARK = ROOT / "examples" / "nexmark"
EVENTS, RATE, BASE_TIME = 10_000, 200, 1_767_225_600_000  # 2026-01-01 00:00 UTC


def _generator() -> Any:
    """examples/nexmark/generator.py, as module ``nexmark_generator``."""
    spec = importlib.util.spec_from_file_location("nexmark_generator", NEXMARK / "generator.py")
    module = sys.modules["nexmark_generator"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()

EVENT_COLUMNS = {
    "event_type": "INTEGER",
    "person": "STRUCT(id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, "
              "state VARCHAR, dateTime BIGINT, extra VARCHAR)",
    "auction": "STRUCT(id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, "
               "dateTime BIGINT, expires BIGINT, seller BIGINT, category BIGINT, extra VARCHAR)",
    "bid": "STRUCT(auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime BIGINT, "
           "extra VARCHAR)",
}

ORACLES = {
    "q0": "SELECT auction, bidder, price, dateTime, extra FROM bid",
    "q1": "SELECT auction, bidder, CAST(0.908 * price AS DECIMAL(23, 3)), dateTime, extra FROM bid",
    "q2": "SELECT auction, price FROM bid WHERE auction % 123 = 0",
    "q3": """SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
             WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')""",
    "q4": """SELECT category, sum(final) // count(*), count(*) FROM (
               SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
               WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
               GROUP BY A.id, A.category)
             GROUP BY category""",
    # HOP(2 s, 10 s): a bid at t is in the 5 windows ending at the multiples of 2 s in (t, t + 10 s].
    "q5": """WITH counts AS (
               SELECT dateTime // 2000 * 2000 + 2000 * (k + 1) AS window_end, auction, count(*) AS num
               FROM bid, range(5) AS r(k) GROUP BY ALL),
             most AS (SELECT window_end, max(num) AS maxn FROM counts GROUP BY window_end)
             SELECT window_end, list(auction ORDER BY auction), maxn
             FROM counts JOIN most USING (window_end) WHERE num >= maxn GROUP BY window_end, maxn""",
    "q7": """WITH windowed AS (SELECT *, dateTime // 10000 * 10000 + 10000 AS window_end FROM bid),
             highest AS (SELECT window_end, max(price) AS maxprice FROM windowed GROUP BY window_end)
             SELECT window_end, auction, price, bidder, dateTime, extra
             FROM windowed JOIN highest USING (window_end) WHERE price = maxprice""",
    "q8": """SELECT P.id, P.name, P.starttime
             FROM (SELECT id, name, dateTime // 10000 * 10000 AS starttime FROM person GROUP BY ALL) P
             JOIN (SELECT seller, dateTime // 10000 * 10000 AS starttime FROM auction GROUP BY ALL) A
             ON P.id = A.seller AND P.starttime = A.starttime""",
}


def duckdb_events(values: list[bytes], directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the events as table ``events`` and nexmark-flink's views
    ``person``, ``auction`` and ``bid`` over it."""
    path = directory / "events.ndjson"
    path.write_bytes(b"\n".join(values) + b"\n")
    db = duckdb.connect()
    db.execute("CREATE TABLE events AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?)",
               [str(path), EVENT_COLUMNS])
    for view, event_type in (("person", 0), ("auction", 1), ("bid", 2)):
        db.execute(f"CREATE VIEW {view} AS SELECT {view}.* FROM events WHERE event_type = {event_type}")
    return db


def rows(query: str, records: list) -> Any:
    """The query's output records as the oracle's rows: a Counter of tuples (q4: category ->
    (average, auctions) of each category's last record; q5: window end -> (auctions, bids))."""
    values = [json.loads(r.value(), parse_float=Decimal) for r in records]
    if query == "q4":
        last = {v["category"]: (v["average"], v["auctions"]) for v in values}
        assert len(values) == sum(auctions for _, auctions in last.values()), "one record per closed auction"
        return last
    if query == "q5":
        assert len({v["window_end"] for v in values}) == len(values), "a window fired twice"
        return {v["window_end"]: (v["auctions"], v["bids"]) for v in values}
    fields = {"q0": ("auction", "bidder", "price", "dateTime", "extra"),
              "q1": ("auction", "bidder", "price", "dateTime", "extra"),
              "q2": ("auction", "price"), "q3": ("name", "city", "state", "id"),
              "q7": ("window_end", "auction", "price", "bidder", "dateTime", "extra"),
              "q8": ("id", "name", "starttime")}[query]
    return Counter(tuple(v[f] for f in fields) for v in values)


def oracle(query: str, db: duckdb.DuckDBPyConnection) -> Any:
    """DuckDB's result of the query, shaped as :func:`rows` shapes the job's."""
    result = db.execute(ORACLES[query]).fetchall()
    if query == "q4":
        return {category: (average, auctions) for category, average, auctions in result}
    if query == "q5":
        return {window_end: (auctions, bids) for window_end, auctions, bids in result}
    return Counter(result)


@pytest.fixture(scope="module")
def nexmark(stack, tmp_path_factory) -> tuple[TestCluster, str, duckdb.DuckDBPyConnection]:
    """A cluster (2 TaskManagers, 2 slots each), the input topic and DuckDB over its events."""
    cluster = TestCluster(tmp_path_factory.mktemp("nexmark"))
    try:
        cluster.start_standard(task_managers=2, slots=2)
        config = generator.GeneratorConfig(base_time=BASE_TIME, rate=RATE, seed=12)
        records = list(generator.encoded(config, EVENTS))
        topic = f"nexmark-{uuid.uuid4().hex[:8]}"
        produce_records(cluster.config.get(KafkaOptions.BOOTSTRAP), topic, records, partitions=2,
                                 config=cluster.config)
        yield cluster, topic, duckdb_events([value for _, value in records], tmp_path_factory.mktemp("duckdb"))
    finally:
        cluster.close()


@pytest.mark.parametrize("query", ["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8"])
def test_query_equals_duckdb(nexmark, query: str):
    cluster, topic, db = nexmark
    output = f"{topic}-{query}"
    result = cluster.strom("run", "-p", "2", str(NEXMARK / f"{query}.py"), "--", "--input", topic,
                           "--output", output)
    assert result.returncode == 0, result.stdout + result.stderr + cluster.logs()
    expected = oracle(query, db)
    assert len(expected) >= 3, f"the oracle of {query} has too few rows to tell anything: {expected}"
    assert rows(query, read_to_end(cluster.config.get(KafkaOptions.BOOTSTRAP), output)) == expected
