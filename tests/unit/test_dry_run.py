"""``strom run --dry-run``: the job graph printed, nothing submitted, no cluster needed."""

from pathlib import Path

from click.testing import CliRunner

from strom.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_prints_vertices_edges_and_topics_without_a_cluster():
    result = CliRunner().invoke(cli, ["run", "--dry-run", "-p", "2", str(ROOT / "examples" / "wordcount.py"), "--",
                                      "--input", "lines", "--output", "counts", "--checkpoint-interval", "500"],
                                env={"STROM_CLUSTER_ID": "dry", "STROM_REST_PORT": "1"})  # nothing may be asked
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("job WordCount (") and "checkpoints every 500 ms (exactly-once)" in lines[0]
    assert lines[1] == "  v1 lines reads lines (bounded) -> split words  parallelism 2"
    assert lines[2] == "  v2 count -> counts writes counts (exactly-once)  parallelism 2"
    assert lines[3].startswith("     <- v1 hash over 128 partitions: topic strom.dry.job.")
    assert "submitted" not in result.output
