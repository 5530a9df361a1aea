"""Check WordCount's output topic against a plain-Python count of the same text file.

    python examples/check_wordcount.py --file kjv.txt --output wordcount-output [--dlq wordcount-dlq]

Reads the output topic from the beginning to its end (read_committed), takes
the last count per word, counts the file's words with the same rule
(lowercased runs of Unicode letters; lines that are not UTF-8 are expected in
the dead-letter topic instead), prints the top 20 and "OK" or the differences.
Exit status 0 only for OK.
"""

import argparse
import re
import sys
from collections import Counter

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import read_to_end

WORD = re.compile(r"[^\W\d_]+")


def oracle(path: str) -> tuple[Counter, int]:
    """(word counts, number of lines that are not valid UTF-8)."""
    counts, invalid = Counter(), 0
    with open(path, "rb") as file:
        for raw in file:
            try:
                line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError:
                invalid += 1
                continue
            counts.update(WORD.findall(line.lower()))
    return counts, invalid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--output", required=True, help="WordCount's output topic")
    parser.add_argument("--dlq", help="dead-letter topic to check invalid lines against")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)

    expected, invalid = oracle(args.file)
    final: dict[str, int] = {}
    for key, value in ((m.key(), m.value()) for m in read_to_end(bootstrap, args.output)):
        final[key.decode()] = int(value)  # a word's records share one partition, in order
    print(f"top {args.top} words of {args.file}:")
    for word, count in sorted(final.items(), key=lambda kv: (-kv[1], kv[0]))[:args.top]:
        print(f"  {count:>8}  {word}")
    problems = [f"{w}: expected {expected.get(w, 0)}, got {final.get(w, 0)}"
                for w in sorted(set(expected) | set(final)) if expected.get(w, 0) != final.get(w, 0)]
    if args.dlq:
        dead = len(read_to_end(bootstrap, args.dlq))
        if dead != invalid:
            problems.append(f"dead-letter topic {args.dlq}: expected {invalid} records, got {dead}")
    print(f"{len(final)} distinct words, {sum(final.values())} words in all; "
          f"{invalid} lines not UTF-8")
    if problems:
        print(f"DIFFERENCES ({len(problems)}):")
        print("\n".join(f"  {p}" for p in problems[:50]))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
