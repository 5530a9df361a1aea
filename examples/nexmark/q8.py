"""Nexmark q8, monitor new users: the persons who opened an auction in the same tumbling window
in which they registered (a window join).

    strom run -p 2 examples/nexmark/q8.py -- --input nexmark --output nexmark-q8

nexmark-flink's q8 joins persons grouped by ``(id, name, TUMBLE(person, dateTime, INTERVAL '10'
SECOND))`` with sellers grouped by ``(seller, TUMBLE(auction, ...))`` on id = seller and the same
window. Output: per such person and window (``--window-ms``, default 10 s), key = the person's
id, value = JSON ``{"id", "name", "starttime"}`` (the window's start, ms); Kafka timestamp = the
window's last ms.

The join is built as Flink builds a window join (both sides tagged, keyed by person id and
seller, windowed), from one operator that tags persons and sellers (see nexmark_model); as only
whether a person sold matters, each window keeps an aggregate (the person's name, whether they
sold) rather than every pair.
"""

import nexmark_model as nexmark
from nexmark_model import AUCTION, PERSON

from strom.api import AggregateFunction, Duration, ProcessWindowFunction, TumblingEventTimeWindows


def persons_and_sellers(event: dict) -> tuple:
    """(PERSON, (id, name)) of a person, (AUCTION, (seller,)) of an auction, nothing for a bid."""
    if (person := event["person"]) is not None:
        return ((PERSON, (person["id"], person["name"])),)
    if (auction := event["auction"]) is not None:
        return ((AUCTION, (auction["seller"],)),)
    return ()


class NewSeller(AggregateFunction):
    """(the person's name or None, whether they sold) of one person id's window."""

    def create_accumulator(self):
        return None, False

    def add(self, tagged, accumulator):
        kind, fields = tagged
        name, sold = accumulator
        return (fields[1], sold) if kind == PERSON else (name, True)

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return a[0] or b[0], a[1] or b[1]


class IfBoth(ProcessWindowFunction):
    """The output record of a window where the person registered and sold."""

    def process(self, person_id, context, results):
        name, sold = next(iter(results))
        if name is not None and sold:
            yield {"id": person_id, "name": name, "starttime": context.window().start}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    parser = nexmark.parser("q8", __doc__.splitlines()[0])
    parser.add_argument("--window-ms", type=int, default=Duration.of_seconds(10))
    args = parser.parse_args(argv)
    env, events = nexmark.events(args)
    (events.flat_map(persons_and_sellers).name("persons and sellers").uid("select")
        .key_by(lambda tagged: tagged[1][0])
        .window(TumblingEventTimeWindows.of(args.window_ms))
        .aggregate(NewSeller(), window_function=IfBoth()).name("window join").uid("join")
        .sink_to(nexmark.json_sink(args.output, key=lambda person: person["id"])).name("q8").uid("q8"))
    env.execute("Nexmark q8")
