"""The watermark valve over (channel, event), without Kafka."""

from strom.runtime.io.events import WatermarkStatus
from strom.runtime.io.valve import StatusWatermarkValve
from strom.runtime.timers import MIN_TIME
from strom.runtime.watermarks import SourceWatermarks, WatermarkOutput


def test_the_input_watermark_is_the_minimum_over_active_channels():
    valve = StatusWatermarkValve(["a", "b", "c"])
    assert valve.on_watermark("a", 300) == (MIN_TIME, False)  # b and c have none yet
    valve.on_watermark("b", 100)
    assert valve.on_watermark("c", 200) == (100, False)
    assert valve.on_watermark("b", 250) == (200, False)


def test_idle_channels_are_left_out():
    valve = StatusWatermarkValve(["a", "b"])
    valve.on_watermark("a", 500)
    assert valve.on_status("b", WatermarkStatus.IDLE) == (500, False)


def test_all_idle_advances_to_the_highest_and_is_idle():
    valve = StatusWatermarkValve(["a", "b"])
    valve.on_watermark("a", 500)
    valve.on_watermark("b", 700)
    valve.on_status("a", WatermarkStatus.IDLE)
    assert valve.on_status("b", WatermarkStatus.IDLE) == (700, True)


def test_a_watermark_or_active_status_reactivates_a_channel():
    valve = StatusWatermarkValve(["a", "b"])
    valve.on_watermark("a", 500)
    valve.on_watermark("b", 900)
    valve.on_status("a", WatermarkStatus.IDLE)
    assert valve.on_watermark("a", 600) == (600, False)
    valve.on_status("b", WatermarkStatus.IDLE)
    assert valve.on_status("b", WatermarkStatus.ACTIVE) == (600, False)


def test_ended_channels_do_not_hold_the_watermark_and_all_ended_says_nothing():
    valve = StatusWatermarkValve(["a", "b"])
    valve.on_watermark("a", 100)
    assert valve.on_end_of_partition("b") == (100, False)
    assert valve.on_end_of_partition("a") is None


class Writer:
    def __init__(self):
        self.events = []

    def broadcast_event(self, event):
        self.events.append(event)


def test_the_output_announces_changes_only_and_reannounces_when_active_again():
    writer, fired = Writer(), []
    output = WatermarkOutput([writer], type("Timed", (), {"on_watermark": lambda self, wm: fired.append(wm)})())
    output.emit_input_watermark((100, False))
    output.emit_input_watermark((100, False))  # unchanged: nothing
    output.emit_input_watermark((50, False))   # watermarks never go back
    output.emit_input_watermark((300, True))   # all idle: advance, then idle
    output.emit_input_watermark((300, True))
    output.emit_input_watermark((200, False))  # active again: re-announce 300
    assert [repr(e) for e in writer.events] == [
        "Watermark(timestamp=100)", "Watermark(timestamp=300)", "<WatermarkStatus.IDLE: b'idle'>",
        "Watermark(timestamp=300)"]
    assert fired == [100, 300] and output.watermark == 300 and not output.idle


def test_an_upstream_counts_until_idle_on_every_partition_it_reaches():
    """Upstream u wrote IDLE, then records and watermark 900 on p0 and p1; p0 was read ahead.
    p1's channel, read up to the IDLE only, must still hold the task back at u's old watermark."""
    channels = [(p, u) for p in ("p0", "p1") for u in ("u", "v")]
    valve = StatusWatermarkValve(channels, upstream_of=lambda channel: channel[1])
    for channel in channels:
        valve.on_watermark(channel, 100)
    for p in ("p0", "p1"):
        valve.on_status((p, "v"), WatermarkStatus.IDLE)
        valve.on_status((p, "u"), WatermarkStatus.IDLE)
    assert valve.on_watermark(("p0", "u"), 900) == (100, False)
    assert valve.on_watermark(("p1", "u"), 900) == (900, False)
    assert valve.on_status(("p0", "u"), WatermarkStatus.IDLE) == (900, False)  # p1 still active
    assert valve.on_status(("p1", "u"), WatermarkStatus.IDLE) == (900, True)


def test_a_busy_partition_is_not_idle_however_long_a_batch_takes():
    """Records seen between two periodic checks keep a partition active (Flink's IdlenessTimer),
    even when the checks are further apart than the idle timeout."""
    wm = SourceWatermarks(["p0"], out_of_orderness_ms=0, idle_timeout_ms=500, now_ms=0)
    for check, ts in ((1_000, 10), (3_000, 20), (9_000, 30)):  # each batch took seconds
        wm.on_record("p0", ts)
        assert wm.current(check) == ts - 1
    assert wm.current(9_200) == 29          # first check without a record: not idle yet
    assert wm.current(9_699) == 29
    assert wm.current(9_700) is None        # 500 ms since that check: idle
