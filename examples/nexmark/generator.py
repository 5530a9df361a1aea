"""Nexmark's event generator (nexmark/nexmark, nexmark-flink ``generator/``) in Python, and a loader.

    .venv/bin/python examples/nexmark/generator.py produce --events 2000000 --topic nexmark

Events come as Nexmark makes them: event number ``n`` (0, 1, 2, ...) is a person when
``n % 50 == 0``, an auction when ``n % 50`` is 1-3 and a bid otherwise (1 : 3 : 46), and happens
at ``base_time + n * 1000 / rate`` ms (``rate``: events per second of event time, Nexmark's
``first-event.rate``; they are written as fast as Kafka takes them, Nexmark's ``maxEmitSpeed``).
Field distributions are Nexmark's (``PersonGenerator``, ``AuctionGenerator``, ``BidGenerator``,
``PriceGenerator``, ``StringsGenerator`` with ``NexmarkConfiguration``'s defaults):

- ids: persons 1000, 1001, ... and auctions 1000, 1001, ... in order of creation;
- an auction's seller is a hot seller (the first of the newest batch of 100 persons) with
  probability 3/4, else a random one of the 1000 newest persons or up to 10 not created yet;
- a bid is on a hot auction (the first of the newest batch of 100 auctions) with probability 1/2,
  else on a random one of the 100 newest auctions or up to 10 not created yet; its bidder is a
  hot bidder (the second of the newest batch of 100 persons) with probability 3/4, else random
  as sellers are;
- prices (cents): ``round(10 ** U(0, 6) * 100)``; an auction's ``reserve`` is its ``initialBid``
  plus another such price; categories 10-14 uniform;
- an auction ``expires`` 1 ms to 2 horizons after it starts, uniform, where the horizon is the
  time until 100 auctions later (about 1666 events later: 167 ms at 10,000 events/s);
- states AZ, CA, ID, OR, WA, WY and 10 cities uniform and independent; names from 11 first and
  9 last names; strings of 3 to n-1 letters, each a space with probability 1/13;
- bid channels: "Google", "Facebook", "Baidu" or "Apple" with probability 1/2, else one of
  10,000 channels ``channel-i`` with fixed URLs;
- ``extra`` pads each event to about 200 (person), 500 (auction) and 100 (bid) bytes.

One difference: nexmark-flink's ``BidGenerator`` adds the first person id to a bidder twice
(bidders start at 2000, matching no person); here bidders are person ids, as in Beam's Nexmark.

Records (JSON, UTF-8, no key) are shaped like nexmark-flink's ``datagen`` table, times in ms::

    {"event_type": 2, "person": null, "auction": null,
     "bid": {"auction": 1007, "bidder": 1001, "price": 3177, "channel": "Google",
             "url": "https://www.nexmark.com/...", "dateTime": 1700000000123, "extra": "..."}}

with ``person`` (``id, name, emailAddress, creditCard, city, state, dateTime, extra``) for
event_type 0 and ``auction`` (``id, itemName, description, initialBid, reserve, dateTime,
expires, seller, category, extra``) for 1. The Kafka record timestamp is the event's
``dateTime``; event n goes to partition ``n % partitions``, so each partition is in event-time
order. The same seed, rate and base time give the same events.
"""

from __future__ import annotations

import argparse
import itertools
import json
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

from strom.client.produce import produce_records
from strom.config import Configuration, KafkaOptions

FIRST_PERSON_ID = 1000
FIRST_AUCTION_ID = 1000
FIRST_CATEGORY_ID = 10
NUM_CATEGORIES = 5
PERSON_PROPORTION, AUCTION_PROPORTION, BID_PROPORTION = 1, 3, 46
TOTAL_PROPORTION = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION
HOT_BATCH = 100  # HOT_SELLER_RATIO, HOT_AUCTION_RATIO, HOT_BIDDER_RATIO: hot ids are the first of a batch
ID_LEAD = 10  # PERSON_ID_LEAD, AUCTION_ID_LEAD: random ids may run this far ahead of the newest
US_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
US_CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle",
             "Kent", "Cheyenne"]
FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
HOT_CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]
CHANNELS = 10_000
LETTERS = string.ascii_lowercase
EXTRA_POOL_CHARS = 1 << 20  # StringsGenerator's REUSABLE_EXTRA_STRING: extras are slices of it


@dataclass(frozen=True)
class GeneratorConfig:
    """Nexmark's ``NexmarkConfiguration`` defaults; ``rate`` in events per second of event time,
    ``base_time`` in ms since the epoch (the first event's ``dateTime``)."""

    base_time: int
    rate: float = 10_000
    seed: int = 0
    hot_auction_ratio: int = 2  # 1 - 1/2 of bids are on the hot auction
    hot_sellers_ratio: int = 4
    hot_bidders_ratio: int = 4
    num_in_flight_auctions: int = 100
    num_active_people: int = 1000
    avg_person_bytes: int = 200
    avg_auction_bytes: int = 500
    avg_bid_bytes: int = 100
    delay_us: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay_us", 1_000_000 / self.rate)

    def timestamp(self, number: int) -> int:
        """The event time (ms) of event ``number`` (``GeneratorConfig.timestampForEvent``)."""
        return self.base_time + int(number * self.delay_us) // 1000


def last_person_id(number: int) -> int:
    """Base-0 id of the newest person at event ``number`` (``lastBase0PersonId``)."""
    epoch, offset = divmod(number, TOTAL_PROPORTION)
    return epoch * PERSON_PROPORTION + min(offset, PERSON_PROPORTION - 1)


def last_auction_id(number: int) -> int:
    """Base-0 id of the newest auction at event ``number`` (``lastBase0AuctionId``)."""
    epoch, offset = divmod(number, TOTAL_PROPORTION)
    if offset < PERSON_PROPORTION:
        epoch, offset = epoch - 1, AUCTION_PROPORTION - 1
    elif offset >= PERSON_PROPORTION + AUCTION_PROPORTION:
        offset = AUCTION_PROPORTION - 1
    else:
        offset -= PERSON_PROPORTION
    return epoch * AUCTION_PROPORTION + offset


def channel_id(channel: int) -> int:
    """Java's ``Math.abs(Integer.reverse(channel))``: the 32 bits reversed, as a signed int, made
    positive (but for -2**31, which stays itself).

    >>> channel_id(0), channel_id(1), channel_id(2), channel_id(3)
    (0, -2147483648, 1073741824, 1073741824)
    """
    reversed_bits = int(f"{channel:032b}"[::-1], 2)
    signed = reversed_bits - (1 << 32) if reversed_bits >= 1 << 31 else reversed_bits
    return signed if signed == -(1 << 31) else abs(signed)


class NexmarkGenerator:
    """Nexmark's events, one ``random.Random(seed)`` drawn from in event order.

    >>> gen = NexmarkGenerator(GeneratorConfig(base_time=1_700_000_000_000, rate=1000, seed=1))
    >>> [(e["event_type"], e["person"]["id"] if e["person"] else e["auction"]["id"] if e["auction"] else None)
    ...  for _, e in itertools.islice(gen.events(), 5)]
    [(0, 1000), (1, 1000), (1, 1001), (1, 1002), (2, None)]
    """

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = Random(config.seed)
        # StringsGenerator.nextString: each character a space with probability 1/13, else a letter.
        self._chars, self._char_weights = [*LETTERS, " "], list(itertools.accumulate([12] * 26 + [26]))
        self._extra_pool = "".join(self.rng.choices(LETTERS, k=EXTRA_POOL_CHARS))
        self._hot_urls = [self._base_url() for _ in HOT_CHANNELS]
        self._channels = [(f"channel-{i}", self._channel_url(i)) for i in range(CHANNELS)]

    def _int(self, n: int) -> int:
        """Uniform in [0, n) (``SplittableRandom.nextInt``)."""
        return int(self.rng.random() * n)

    def _string(self, max_length: int, special: str = " ") -> str:
        """3 to ``max_length - 1`` characters, trimmed (``StringsGenerator.nextString``)."""
        length = 3 + self._int(max_length - 3)
        chars = self.rng.choices(self._chars, cum_weights=self._char_weights, k=length)
        return "".join(chars).replace(" ", special).strip()

    def _extra(self, current_size: int, average: int) -> str:
        """Padding to about ``average`` bytes, ±20 % (``StringsGenerator.nextExtra``)."""
        if current_size > average:
            return ""
        average -= current_size
        delta = round(average * 0.2)
        size = average - delta + (self._int(2 * delta) if delta else 0)
        offset = self._int(EXTRA_POOL_CHARS - size)
        return self._extra_pool[offset:offset + size]

    def _base_url(self) -> str:
        parts = "/".join(self._string(5, "_") for _ in range(3))
        return f"https://www.nexmark.com/{parts}/item.htm?query=1"

    def _channel_url(self, channel: int) -> str:
        url = self._base_url()
        if self._int(10) > 0:
            url += f"&channel_id={channel_id(channel)}"
        return url

    def _price(self) -> int:
        """Cents: ``round(10 ** U(0, 6) * 100)`` (``PriceGenerator.nextPrice``)."""
        return round(10.0 ** (self.rng.random() * 6.0) * 100.0)

    def _random_person(self, number: int) -> int:
        """Base-0 id of one of the active persons or a few ahead (``nextBase0PersonId``)."""
        people = last_person_id(number) + 1
        active = min(people, self.config.num_active_people)
        return people - active + self._int(active + ID_LEAD)

    def _random_auction(self, number: int) -> int:
        """Base-0 id of an auction likely in flight, or a few ahead (``nextBase0AuctionId``)."""
        newest = last_auction_id(number)
        oldest = max(newest - self.config.num_in_flight_auctions, 0)
        return oldest + self._int(newest - oldest + 1 + ID_LEAD)

    def person(self, number: int, timestamp: int) -> dict:
        """The person of event ``number`` (``PersonGenerator.nextPerson``)."""
        name = f"{FIRST_NAMES[self._int(len(FIRST_NAMES))]} {LAST_NAMES[self._int(len(LAST_NAMES))]}"
        email = f"{self._string(7)}@{self._string(5)}.com"
        card = " ".join(f"{self._int(10_000):04d}" for _ in range(4))
        city, state = US_CITIES[self._int(len(US_CITIES))], US_STATES[self._int(len(US_STATES))]
        size = 8 + len(name) + len(email) + len(card) + len(city) + len(state)
        return {"id": last_person_id(number) + FIRST_PERSON_ID, "name": name, "emailAddress": email,
                "creditCard": card, "city": city, "state": state, "dateTime": timestamp,
                "extra": self._extra(size, self.config.avg_person_bytes)}

    def auction(self, number: int, timestamp: int) -> dict:
        """The auction of event ``number`` (``AuctionGenerator.nextAuction``)."""
        config = self.config
        if self._int(config.hot_sellers_ratio) > 0:
            seller = last_person_id(number) // HOT_BATCH * HOT_BATCH
        else:
            seller = self._random_person(number)
        category = FIRST_CATEGORY_ID + self._int(NUM_CATEGORIES)
        initial_bid = self._price()
        # nextAuctionLengthMs: uniform over twice the time until num_in_flight_auctions more auctions.
        horizon = config.timestamp(
            number + config.num_in_flight_auctions * TOTAL_PROPORTION // AUCTION_PROPORTION) - timestamp
        expires = timestamp + 1 + self._int(max(horizon * 2, 1))
        item, description = self._string(20), self._string(100)
        reserve = initial_bid + self._price()
        size = 8 + len(item) + len(description) + 8 + 8 + 8 + 8 + 8
        return {"id": last_auction_id(number) + FIRST_AUCTION_ID, "itemName": item, "description": description,
                "initialBid": initial_bid, "reserve": reserve, "dateTime": timestamp, "expires": expires,
                "seller": seller + FIRST_PERSON_ID, "category": category,
                "extra": self._extra(size, config.avg_auction_bytes)}

    def bid(self, number: int, timestamp: int) -> dict:
        """The bid of event ``number`` (``BidGenerator.nextBid``)."""
        config = self.config
        if self._int(config.hot_auction_ratio) > 0:
            auction = last_auction_id(number) // HOT_BATCH * HOT_BATCH
        else:
            auction = self._random_auction(number)
        if self._int(config.hot_bidders_ratio) > 0:
            bidder = last_person_id(number) // HOT_BATCH * HOT_BATCH + 1
        else:
            bidder = self._random_person(number)
        price = self._price()
        if self._int(2) > 0:
            hot = self._int(len(HOT_CHANNELS))
            channel, url = HOT_CHANNELS[hot], self._hot_urls[hot]
        else:
            channel, url = self._channels[self._int(CHANNELS)]
        return {"auction": auction + FIRST_AUCTION_ID, "bidder": bidder + FIRST_PERSON_ID, "price": price,
                "channel": channel, "url": url, "dateTime": timestamp,
                "extra": self._extra(32, config.avg_bid_bytes)}

    def events(self, count: int | None = None) -> Iterator[tuple[int, dict]]:
        """(event time in ms, event) of events 0, 1, ... (``count`` of them; None: without end)."""
        numbers = range(count) if count is not None else itertools.count()
        for number in numbers:
            timestamp = self.config.timestamp(number)
            kind = number % TOTAL_PROPORTION
            if kind < PERSON_PROPORTION:
                yield timestamp, {"event_type": 0, "person": self.person(number, timestamp),
                                  "auction": None, "bid": None}
            elif kind < PERSON_PROPORTION + AUCTION_PROPORTION:
                yield timestamp, {"event_type": 1, "person": None,
                                  "auction": self.auction(number, timestamp), "bid": None}
            else:
                yield timestamp, {"event_type": 2, "person": None, "auction": None,
                                  "bid": self.bid(number, timestamp)}


def encode(event: dict) -> bytes:
    """An event as its record value: compact JSON, UTF-8."""
    return json.dumps(event, separators=(",", ":")).encode()


def encoded(config: GeneratorConfig, count: int) -> Iterator[tuple[int, bytes]]:
    """(event time in ms, record value) of the first ``count`` events of ``config``."""
    return ((timestamp, encode(event)) for timestamp, event in NexmarkGenerator(config).events(count))


def cli(argv: list[str]) -> None:
    """``produce --events N [--rate R] [--topic T] [--partitions P] [--seed S] [--base-time MS]``."""
    parser = argparse.ArgumentParser(prog="generator.py", description="Nexmark's event generator.")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("produce", help="write Nexmark events (JSON) to a Kafka topic")
    load.add_argument("--events", type=int, default=100_000, help="events to write (default 100,000)")
    load.add_argument("--rate", type=float, default=10_000,
                      help="events per second of event time (Nexmark's first-event.rate, default 10,000)")
    load.add_argument("--topic", default="nexmark")
    load.add_argument("--partitions", type=int, default=2, help="partitions of a new topic (default 2)")
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--base-time", type=int, help="the first event's time, ms since the epoch (default: now)")
    load.add_argument("--bootstrap", help="Kafka bootstrap servers (default: STROM_KAFKA_BOOTSTRAP / strom config)")
    args = parser.parse_args(argv)
    config = Configuration()
    bootstrap = args.bootstrap or config.get(KafkaOptions.BOOTSTRAP)
    base_time = args.base_time if args.base_time is not None else int(time.time() * 1000)
    generator = GeneratorConfig(base_time=base_time, rate=args.rate, seed=args.seed)
    count, seconds = produce_records(bootstrap, args.topic, encoded(generator, args.events), args.partitions, config)
    print(f"produced {count:,} events to {args.topic} in {seconds:.1f} s ({count / seconds:,.0f} events/s), "
          f"event time {base_time} to {generator.timestamp(count - 1)} ms")


if __name__ == "__main__":
    cli(sys.argv[1:])
