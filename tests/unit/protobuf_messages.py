"""Protobuf message classes for the Schema Registry tests, built at run time (no protoc here)."""

from __future__ import annotations

import uuid

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def click_message_type() -> type:
    """``stromtest.Click {string user = 1; int32 n = 2;}`` in a descriptor pool of its own, its
    file named uniquely (a registry keeps one schema per file name and content)."""
    proto = descriptor_pb2.FileDescriptorProto(name=f"stromtest/click_{uuid.uuid4().hex[:6]}.proto",
                                               package="stromtest", syntax="proto3")
    message = proto.message_type.add(name="Click")
    message.field.add(name="user", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=1)
    message.field.add(name="n", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("stromtest.Click"))
