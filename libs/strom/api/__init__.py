"""Strom's DataStream API (Flink's names): ``from strom.api import *``."""

from strom.api.connectors import (
    CollectionSource,
    CollectSink,
    DeliveryGuarantee,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from strom.api.datastream import (
    ConnectedStreams,
    DataStream,
    IntervalJoin,
    JoinedStreams,
    KeyedStream,
    StreamExecutionEnvironment,
    WindowedStream,
)
from strom.api.evictors import CountEvictor, DeltaEvictor, Evictor, TimeEvictor, TimestampedValue
from strom.api.functions import (
    CoProcessFunction,
    FilterFunction,
    FlatMapFunction,
    JoinFunction,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    MapFunction,
    ProcessFunction,
    ProcessJoinFunction,
    ReduceFunction,
    TimeDomain,
)
from strom.api.schema_registry import (
    RegistryAvroDeserializationSchema,
    RegistryAvroSerializationSchema,
    RegistryDeserializationError,
    RegistryJsonDeserializationSchema,
    RegistryJsonSerializationSchema,
    RegistryProtobufDeserializationSchema,
    RegistryProtobufSerializationSchema,
)
from strom.api.serialization import AvroSchema, BytesSchema, JsonSchema, SimpleStringSchema
from strom.api.time import Duration, TimestampAssigner, WatermarkStrategy
from strom.api.triggers import (
    ContinuousEventTimeTrigger,
    ContinuousProcessingTimeTrigger,
    CountTrigger,
    EventTimeTrigger,
    NeverTrigger,
    ProcessingTimeTrigger,
    PurgingTrigger,
    Trigger,
    TriggerResult,
)
from strom.api.windowing import (
    EventTimeSessionWindows,
    GlobalWindow,
    GlobalWindows,
    OutputTag,
    ProcessingTimeSessionWindows,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    SlidingProcessingTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
    WindowAssigner,
    WindowFunction,
)
from strom.checkpoint.config import CheckpointingMode, RestartStrategies
from strom.graph.stream_graph import ErrorPolicy
from strom.io.client_config import schema_registry_config  # the cluster's registry, for the formats above
from strom.state import (
    AggregateFunction,
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    RuntimeContext,
    StateTtlConfig,
    ValueStateDescriptor,
)

__all__ = [
    # connectors and formats
    "AvroSchema", "BytesSchema", "DeliveryGuarantee", "JsonSchema", "KafkaOffsetsInitializer",
    "CollectionSource", "CollectSink",
    "KafkaRecordSerializationSchema", "KafkaSink", "KafkaSource", "SimpleStringSchema",
    "RegistryAvroDeserializationSchema", "RegistryAvroSerializationSchema", "RegistryDeserializationError",
    "RegistryJsonDeserializationSchema", "RegistryJsonSerializationSchema",
    "RegistryProtobufDeserializationSchema", "RegistryProtobufSerializationSchema", "schema_registry_config",
    # streams
    "ConnectedStreams", "DataStream", "IntervalJoin", "JoinedStreams", "KeyedStream",
    "StreamExecutionEnvironment", "WindowedStream", "CheckpointingMode", "RestartStrategies", "ErrorPolicy",
    # time and windows
    "Duration", "TimestampAssigner", "WatermarkStrategy", "OutputTag",
    "EventTimeSessionWindows", "GlobalWindow", "GlobalWindows", "ProcessingTimeSessionWindows",
    "SlidingEventTimeWindows", "SlidingProcessingTimeWindows", "TimeWindow", "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows", "WindowAssigner", "ProcessWindowFunction", "WindowFunction",
    "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger", "CountTrigger", "EventTimeTrigger",
    "NeverTrigger", "ProcessingTimeTrigger", "PurgingTrigger", "Trigger", "TriggerResult",
    "CountEvictor", "DeltaEvictor", "Evictor", "TimeEvictor", "TimestampedValue",
    # functions and state
    "AggregateFunction", "CoProcessFunction", "FilterFunction", "FlatMapFunction", "JoinFunction",
    "KeyedCoProcessFunction", "KeyedProcessFunction", "MapFunction", "ProcessFunction",
    "ProcessJoinFunction", "ReduceFunction", "RuntimeContext", "TimeDomain",
    "AggregatingStateDescriptor", "ListStateDescriptor", "MapStateDescriptor", "ReducingStateDescriptor",
    "StateTtlConfig", "ValueStateDescriptor",
]
