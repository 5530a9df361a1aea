"""Strom's DataStream API (Flink's names): ``from strom.api import *``."""

from strom.api.connectors import (
    DeliveryGuarantee, KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink, KafkaSource)
from strom.api.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from strom.api.serialization import AvroSchema, BytesSchema, JsonSchema, SimpleStringSchema
from strom.api.time import Duration, TimestampAssigner, WatermarkStrategy
from strom.api.windowing import (
    EventTimeSessionWindows, OutputTag, ProcessWindowFunction, SlidingEventTimeWindows, TimeWindow,
    TumblingEventTimeWindows)
from strom.checkpoint.config import CheckpointingMode, RestartStrategies
from strom.state import (
    AggregateFunction, AggregatingStateDescriptor, FilterFunction, FlatMapFunction, ListStateDescriptor,
    MapFunction, MapStateDescriptor, ReduceFunction, ReducingStateDescriptor, RuntimeContext,
    ValueStateDescriptor)

__all__ = [
    "Duration", "EventTimeSessionWindows", "OutputTag", "ProcessWindowFunction", "SlidingEventTimeWindows", "TimeWindow", "TimestampAssigner",
    "TumblingEventTimeWindows", "WatermarkStrategy",
    "AggregateFunction", "AggregatingStateDescriptor", "CheckpointingMode", "FilterFunction",
    "FlatMapFunction", "ListStateDescriptor", "MapFunction", "MapStateDescriptor", "ReduceFunction",
    "ReducingStateDescriptor", "RestartStrategies", "RuntimeContext", "ValueStateDescriptor",
    "AvroSchema", "BytesSchema", "DataStream", "DeliveryGuarantee", "JsonSchema",
    "KafkaOffsetsInitializer", "KafkaRecordSerializationSchema", "KafkaSink", "KafkaSource",
    "KeyedStream", "SimpleStringSchema", "StreamExecutionEnvironment",
]
