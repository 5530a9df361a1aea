"""Nexmark q0-q8 (examples/nexmark/) without a cluster: each job's ``main`` run locally at
parallelism 2 on the integration test's events, its output equal to the same DuckDB oracle
(tests/integration/test_nexmark.py), with no Kafka, ZooKeeper or Redis."""

import importlib.util
import sys
from pathlib import Path

import pytest

from strom.testing.local import run_main_locally

ROOT = Path(__file__).resolve().parents[2]
NEXMARK = ROOT / "examples" / "nexmark"
for entry in (ROOT, NEXMARK):  # the integration test's oracles; the jobs' helper module, as `strom run` ships it
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from tests.integration import test_nexmark as nexmark  # noqa: E402


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """(record values, DuckDB over them): the integration test's events, at another base time."""
    config = nexmark.generator.GeneratorConfig(base_time=nexmark.BASE_TIME + 4321, rate=nexmark.RATE, seed=5)
    values = [value for _, value in nexmark.generator.encoded(config, nexmark.EVENTS)]
    return values, nexmark.duckdb_events(values, tmp_path_factory.mktemp("duckdb"))


@pytest.mark.parametrize("query", sorted(nexmark.ORACLES))
def test_query_run_locally_equals_duckdb(events, query):
    values, db = events
    spec = importlib.util.spec_from_file_location(f"nexmark_{query}", NEXMARK / f"{query}.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    results = run_main_locally(job.main, ["--input", "events", "--output", "out"], parallelism=2,
                               sources={"events": values})
    expected = nexmark.oracle(query, db)
    assert len(expected) >= 3
    assert nexmark.rows(query, results.records("out")) == expected
