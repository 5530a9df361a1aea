"""Kafka outages are logged as "waiting for Kafka" without one line per reconnect attempt."""

from confluent_kafka import KafkaError

from strom.io import kafka


def test_waiting_for_kafka_is_logged_at_once_then_throttled(monkeypatch):
    lines = []
    monkeypatch.setattr(kafka.log, "warning", lambda event, **kw: lines.append((event, kw)))
    now = [100.0]
    on_error = kafka.log_kafka_errors("control consumer", clock=lambda: now[0])
    down = KafkaError(KafkaError._TRANSPORT, "127.0.0.1:9092: Connection refused")
    on_error(down)
    assert lines == [("waiting for Kafka", {"component": "control consumer",
                                            "error": down.str(), "failures_since_last_line": 0})]
    for _ in range(40):  # librdkafka retries every ~50 ms
        now[0] += 0.05
        on_error(down)
    assert len(lines) == 1
    now[0] += kafka.WAITING_LOG_INTERVAL_S
    on_error(down)
    assert len(lines) == 2 and lines[1][1]["failures_since_last_line"] == 40
