"""DeliveryReports: what a producer's failed deliveries leave for the task to raise."""

import pytest
from confluent_kafka import KafkaError, Message

from strom.errors import DeliveryFailedError
from strom.io.kafka import DeliveryReports


def test_delivered_records_leave_nothing_to_raise():
    reports = DeliveryReports()
    reports(None, Message(topic="out", partition=0, value=b"fine"))
    reports.check()
    assert reports.failed == 0


def test_a_failed_record_is_raised_with_its_topic_partition_key_and_size():
    reports = DeliveryReports()
    reports(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), Message(topic="out", partition=3, key=b"k", value=b"v" * 300))
    reports(KafkaError(KafkaError._MSG_TIMED_OUT), Message(topic="out", partition=1, value=b"later"))
    with pytest.raises(DeliveryFailedError) as raised:
        reports.check()
    message = str(raised.value)
    assert message.startswith("2 record(s) not delivered to Kafka; first: out[3] key=b'k' value of 300 bytes")
    assert f"starting {b'v' * DeliveryReports.SHOWN_BYTES!r}" in message  # the value is cut, not logged whole
    assert "later" not in message


def test_producer_config_asks_librdkafka_for_failures_only():
    reports = DeliveryReports()
    assert reports.producer_config() == {"on_delivery": reports, "delivery.report.only.error": True}
