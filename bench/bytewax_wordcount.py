"""Bytewax 0.21's WordCount over a Kafka topic, the same job as examples/wordcount.py: lines ->
lower-case words (the same regex) -> a running count per word -> one Kafka record per word
(key = word, value = its count so far). For bench/wordcount.py's comparison row.

    python -m bytewax.run bench.bytewax_wordcount:flow -w 1 [-r DIR -s 1 -b 0]

The input ends at the topic's end (``tail=False``). Settings from the environment:
``BENCH_BROKERS``, ``BENCH_INPUT``, ``BENCH_OUTPUT``.
"""

from __future__ import annotations

import os
import re

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow

WORD = re.compile(r"[^\W\d_]+")  # bench/wordcount.py's and examples/wordcount.py's


def count(total: int | None, _word: str) -> tuple[int, int]:
    total = (total or 0) + 1
    return total, total


flow = Dataflow("wordcount")
brokers = [os.environ.get("BENCH_BROKERS", "127.0.0.1:9092")]
lines = op.input("in", flow, KafkaSource(brokers, [os.environ.get("BENCH_INPUT", "in")], tail=False))
words = op.flat_map("split", lines, lambda msg: WORD.findall(msg.value.decode("utf-8", "replace").lower()))
counts = op.stateful_map("count", op.key_on("by-word", words, lambda word: word), count)
records = op.map("record", counts, lambda kv: KafkaSinkMessage(kv[0].encode(), str(kv[1]).encode()))
op.output("out", records, KafkaSink(brokers, os.environ.get("BENCH_OUTPUT", "out")))
