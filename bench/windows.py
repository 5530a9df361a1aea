"""Window throughput: a tumbling count per key and a sliding (10 s / 2 s) count per key.

    .venv/bin/strom cluster up && .venv/bin/python bench/windows.py [--events 300000]

Runs examples/clicks.py (event time from the records, 2 s out-of-orderness,
checkpoints every 1 s, exactly-once sink) at parallelism 1 and 2 over the same
synthetic click stream (50 users, 10 minutes of event time) and prints
records/s from submission to FINISHED.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

from strom.client.produce import produce_lines
from strom.config import Configuration, KafkaOptions

CLICKS = str(Path(__file__).resolve().parents[1] / "examples" / "clicks.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    rng = random.Random(1)
    t0 = 1_700_000_000_000
    events = sorted(({"user": f"u{rng.randrange(50)}", "ts": t0 + rng.randrange(600_000)}
                     for _ in range(args.events)), key=lambda e: e["ts"] + rng.randrange(2000))
    topic = f"bench-clicks-{uuid.uuid4().hex[:8]}"
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    produce_lines(bootstrap, topic, io.BytesIO(b"\n".join(json.dumps(e).encode() for e in events) + b"\n"))
    print(f"{args.events:,} click events, 50 users, 10 min of event time; checkpoints every 1 s")
    for label, window in (("tumbling 5 s count per key", []),
                          ("sliding 10 s / 2 s count per key", ["--window-ms", "10000", "--slide-ms", "2000"])):
        for parallelism in (1, 2):
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "strom", "run", "-p", str(parallelism), CLICKS, "--",
                            "--input", topic, "--output", f"bench-win-{uuid.uuid4().hex[:8]}",
                            "--dead-letter-topic", "bench-win-dlq", "--checkpoint-interval", "1000", *window],
                           check=True, stdout=subprocess.DEVNULL)
            seconds = time.monotonic() - started
            print(f"  {label:<34} p={parallelism}: {seconds:6.2f} s {args.events / seconds:>10,.0f} records/s")


if __name__ == "__main__":
    main()
