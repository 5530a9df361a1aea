"""Strom's DataStream API (Flink's names): ``from strom.api import *``."""

from strom.api.connectors import (
    DeliveryGuarantee, KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink, KafkaSource)
from strom.api.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from strom.api.serialization import AvroSchema, BytesSchema, JsonSchema, SimpleStringSchema

__all__ = [
    "AvroSchema", "BytesSchema", "DataStream", "DeliveryGuarantee", "JsonSchema",
    "KafkaOffsetsInitializer", "KafkaRecordSerializationSchema", "KafkaSink", "KafkaSource",
    "KeyedStream", "SimpleStringSchema", "StreamExecutionEnvironment",
]
