"""Nexmark q3, local item suggestion: who sells in category 10 from Oregon, Idaho or California,
and which auctions (an incremental join of persons and auctions).

    strom run -p 2 examples/nexmark/q3.py -- --input nexmark --output nexmark-q3

nexmark-flink's ``SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P
ON A.seller = P.id WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')``. Output: one JSON
record ``{"name", "city", "state", "id"}`` per such auction (``id``: the auction's), as soon as
both it and its seller were read, no key.

The join: such persons (tagged PERSON) and auctions (AUCTION), keyed by person id and seller,
meet in a ``KeyedProcessFunction`` that keeps the seller (a person is created once) and the
auctions that came before it. As in Flink's regular join nothing expires: auctions whose seller
never qualifies stay in state.
"""

import nexmark_model as nexmark
from nexmark_model import AUCTION, PERSON

from strom.api import KeyedProcessFunction, ListStateDescriptor, ValueStateDescriptor

STATES = ("OR", "ID", "CA")
CATEGORY = 10


def sellers_and_offers(event: dict) -> tuple:
    """(PERSON, (id, name, city, state)) of a person in STATES, (AUCTION, (seller, id)) of an
    auction in CATEGORY, nothing for other events."""
    person, auction = event["person"], event["auction"]
    if person is not None and person["state"] in STATES:
        return ((PERSON, (person["id"], person["name"], person["city"], person["state"])),)
    if auction is not None and auction["category"] == CATEGORY:
        return ((AUCTION, (auction["seller"], auction["id"])),)
    return ()


class LocalItemSuggestion(KeyedProcessFunction):
    """Per person id: the person and their auctions; yields a suggestion per pair."""

    def open(self, runtime_context):
        self.seller = runtime_context.get_state(ValueStateDescriptor("seller"))  # (id, name, city, state)
        self.waiting = runtime_context.get_list_state(ListStateDescriptor("auctions before the seller"))  # ids

    def process_element(self, tagged, ctx):
        kind, fields = tagged
        if kind == PERSON:
            self.seller.update(fields)
            for auction in self.waiting.get():
                yield suggestion(fields, auction)
            self.waiting.clear()
        elif (seller := self.seller.value()) is None:
            self.waiting.add(fields[1])
        else:
            yield suggestion(seller, fields[1])


def suggestion(seller: tuple[int, str, str, str], auction: int) -> dict:
    """The output record of a (seller, auction id) pair."""
    _id, name, city, state = seller
    return {"name": name, "city": city, "state": state, "id": auction}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    args = nexmark.parser("q3", __doc__.splitlines()[0]).parse_args(argv)
    env, events = nexmark.events(args)
    (events.flat_map(sellers_and_offers).name("sellers and offers").uid("select")
        .key_by(lambda tagged: tagged[1][0])
        .process(LocalItemSuggestion()).name("join").uid("join")
        .sink_to(nexmark.json_sink(args.output)).name("q3").uid("q3"))
    env.execute("Nexmark q3")
