"""Nexmark q1, currency conversion: every bid with its price in euros.

    strom run -p 2 examples/nexmark/q1.py -- --input nexmark --output nexmark-q1

nexmark-flink's ``SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid``
(price a ``DECIMAL(23, 3)``). Output: one JSON record per bid, ``{"auction", "bidder", "price",
"dateTime", "extra"}``, no key, Kafka timestamp = ``dateTime``; ``price`` is the exact product
as a JSON number with at most 3 decimals (``price * 908 / 1000``: a float whose shortest repr is
that decimal, as prices stay far below 2**53 / 1000).
"""

import nexmark_model as nexmark


def in_euros(bid: dict) -> dict:
    """The bid with its price (cents of dollars) times 0.908."""
    return {"auction": bid["auction"], "bidder": bid["bidder"], "price": bid["price"] * 908 / 1000,
            "dateTime": bid["dateTime"], "extra": bid["extra"]}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    args = nexmark.parser("q1", __doc__.splitlines()[0]).parse_args(argv)
    env, events = nexmark.events(args)
    (nexmark.bids(events)
        .map(in_euros).name("dollars to euros").uid("to-euros")
        .sink_to(nexmark.json_sink(args.output)).name("q1").uid("q1"))
    env.execute("Nexmark q1")
