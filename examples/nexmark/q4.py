"""Nexmark q4, average price per category: the mean winning bid of the closed auctions of each
category (a join of auctions and bids, closed by event time, then an aggregation).

    strom run -p 2 examples/nexmark/q4.py -- --input nexmark --output nexmark-q4

nexmark-flink's ``SELECT category, AVG(final) FROM (SELECT MAX(B.price) AS final, A.category FROM
auction A, bid B WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY
A.id, A.category) GROUP BY category`` (``AVG`` of a ``BIGINT`` is a ``BIGINT``: the sum divided
by the count, truncated). Output, key = the category: each time an auction of the category
closes with a winning bid, ``{"category", "average", "auctions"}``: the average so far (cents,
truncated) over ``auctions`` auctions. The last record of each category is the query's result;
Kafka timestamp = the expiry of the auction that closed.

The join: auctions and bids (tagged AUCTION and BID) keyed by auction id meet in a
``KeyedProcessFunction`` that keeps the highest price between the auction's start and expiry
(both inclusive) and emits it when the watermark passes the expiry (at the end of input, every
auction still open closes). Bids read before their auction wait in state until it comes, or
until the watermark passes the bid's time (an auction starting by then would be late).
"""

import nexmark_model as nexmark
from nexmark_model import AUCTION, BID

from strom.api import KeyedProcessFunction, ListStateDescriptor, ValueStateDescriptor


def auctions_and_bids(event: dict) -> tuple:
    """(AUCTION, (id, start, expires, category)) of an auction, (BID, (auction, time, price)) of
    a bid, nothing for a person."""
    if (bid := event["bid"]) is not None:
        return ((BID, (bid["auction"], bid["dateTime"], bid["price"])),)
    if (auction := event["auction"]) is not None:
        return ((AUCTION, (auction["id"], auction["dateTime"], auction["expires"], auction["category"])),)
    return ()


class WinningBid(KeyedProcessFunction):
    """Per auction id: the auction and its bids; yields (category, winning price) at expiry."""

    def open(self, runtime_context):
        self.auction = runtime_context.get_state(ValueStateDescriptor("auction"))  # (start, expires, category)
        self.best = runtime_context.get_state(ValueStateDescriptor("highest price"))
        self.early = runtime_context.get_list_state(ListStateDescriptor("bids before the auction"))  # (ms, price)

    def process_element(self, tagged, ctx):
        kind, fields = tagged
        if kind == AUCTION:
            _id, start, expires, category = fields
            self.auction.update((start, expires, category))
            prices = [price for time, price in self.early.get() if start <= time <= expires]
            self.early.clear()
            if prices:
                self.best.update(max(prices))
            ctx.timer_service().register_event_time_timer(expires)
            return
        _auction, time, price = fields
        auction = self.auction.value()
        if auction is None:
            self.early.add((time, price))
            ctx.timer_service().register_event_time_timer(time)
        elif auction[0] <= time <= auction[1] and price > (self.best.value() or 0):
            self.best.update(price)

    def on_timer(self, timestamp, ctx):
        auction = self.auction.value()
        if auction is None:  # no auction by these bids' time: none can come for them any more
            self.early.update([(time, price) for time, price in self.early.get() if time > timestamp])
        elif timestamp == auction[1]:
            best = self.best.value()
            self.auction.clear()
            self.best.clear()
            if best is not None:
                yield auction[2], best


def average(totals: tuple[int, int, int]) -> dict:
    """(category, sum of winning prices, auctions) as the output record."""
    category, total, count = totals
    return {"category": category, "average": total // count, "auctions": count}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    args = nexmark.parser("q4", __doc__.splitlines()[0]).parse_args(argv)
    env, events = nexmark.events(args)
    (events.flat_map(auctions_and_bids).name("auctions and bids").uid("select")
        .key_by(lambda tagged: tagged[1][0])
        .process(WinningBid()).name("winning bids").uid("winning-bids")
        .map(lambda winner: (winner[0], winner[1], 1)).name("one auction")
        .key_by(lambda totals: totals[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2] + b[2])).name("sum per category").uid("per-category")
        .map(average).name("average")
        .sink_to(nexmark.json_sink(args.output, key=lambda result: result["category"])).name("q4").uid("q4"))
    env.execute("Nexmark q4")
