"""Nexmark q2, selection: the bids on auctions whose id is a multiple of 123.

    strom run -p 2 examples/nexmark/q2.py -- --input nexmark --output nexmark-q2

nexmark-flink's ``SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0``. Output: one JSON
record ``{"auction", "price"}`` per such bid, no key, Kafka timestamp = the bid's ``dateTime``.
"""

import nexmark_model as nexmark


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    args = nexmark.parser("q2", __doc__.splitlines()[0]).parse_args(argv)
    env, events = nexmark.events(args)
    (nexmark.bids(events)
        .flat_map(lambda bid: ({"auction": bid["auction"], "price": bid["price"]},) if bid["auction"] % 123 == 0
                  else ()).name("auction % 123 == 0").uid("select")
        .sink_to(nexmark.json_sink(args.output)).name("q2").uid("q2"))
    env.execute("Nexmark q2")
