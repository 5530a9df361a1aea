"""Nexmark q0, pass-through: every bid, as it is (the cost of reading, parsing and writing).

    strom run -p 2 examples/nexmark/q0.py -- --input nexmark --output nexmark-q0

nexmark-flink's ``SELECT auction, bidder, price, dateTime, extra FROM bid``. Output: one JSON
record per bid, ``{"auction", "bidder", "price", "dateTime", "extra"}``, no key, Kafka timestamp
= the bid's ``dateTime``.
"""

import nexmark_model as nexmark


def pass_through(bid: dict) -> dict:
    """The bid's columns of q0."""
    return {"auction": bid["auction"], "bidder": bid["bidder"], "price": bid["price"],
            "dateTime": bid["dateTime"], "extra": bid["extra"]}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    args = nexmark.parser("q0", __doc__.splitlines()[0]).parse_args(argv)
    env, events = nexmark.events(args)
    (nexmark.bids(events)
        .map(pass_through).name("pass through").uid("pass-through")
        .sink_to(nexmark.json_sink(args.output)).name("q0").uid("q0"))
    env.execute("Nexmark q0")
