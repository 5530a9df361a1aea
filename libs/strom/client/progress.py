"""A running job's progress in one line, for ``strom run`` (live) and ``strom status JOB``."""

from __future__ import annotations

import sys
import time
from typing import Any

import click


def progress_line(details: dict[str, Any]) -> str:
    """One line of a running job's progress from ``GET /jobs/:id``: records in at the sources and
    out at the sinks (with rates), source lag, and the latest completed checkpoint."""
    vertices = details.get("vertices", [])
    inputs = {i["id"] for node in (details.get("plan") or {}).get("nodes", []) for i in node["inputs"]}
    has_input = {node["id"] for node in (details.get("plan") or {}).get("nodes", []) if node["inputs"]}
    sources = [v for v in vertices if v["id"] not in has_input]
    sinks = [v for v in vertices if v["id"] not in inputs]

    def total(group: list[dict], key: str) -> float:
        return sum((v.get("metrics") or {}).get(key, 0) for v in group)
    line = (f"in {total(sources, 'read-records'):,.0f} records ({total(sources, 'read-records-per-second'):,.0f}/s)"
            f", out {total(sinks, 'write-records'):,.0f} ({total(sinks, 'write-records-per-second'):,.0f}/s)"
            f", source lag {total(sources, 'pending-records'):,.0f} records")
    latest = ((details.get("checkpoints") or {}).get("latest") or {}).get("completed")
    if latest:
        line += (f", checkpoint {latest['id']} ({latest.get('duration', 0)} ms, "
                 f"{latest.get('state-size', 0) / 1024:.0f} KiB)")
    return line


class ProgressPrinter:
    """``print(details)``: the job's line, rewritten in place on a terminal; elsewhere (logs, CI)
    a new line at most every ``every_s`` seconds."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s, self.next_line_at = every_s, 0.0

    def __call__(self, details: dict[str, Any]) -> None:
        line = (f"job {details['jid']}: {details['state']} {details.get('duration', 0) / 1000:.0f} s, "
                f"{progress_line(details)}")
        if sys.stdout.isatty():
            click.echo(f"\r\033[K{line}", nl=False)
        elif time.monotonic() >= self.next_line_at:
            self.next_line_at = time.monotonic() + self.every_s
            click.echo(line)
