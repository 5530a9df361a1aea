"""Structured logs: one JSON object a line (or coloured key=value on a terminal).

Every line carries ``service``, ``id`` and ``leader_token`` of the process,
set once with :func:`configure` and :func:`set_leader_token`. They are kept
in a process-wide dict rather than contextvars because kazoo and
confluent-kafka call back from their own threads.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_process_fields: dict[str, Any] = {}


def _add_process_fields(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in _process_fields.items():
        event.setdefault(key, value)
    return event


def configure(service: str, instance_id: str, level: str = "INFO") -> None:
    """Set up structlog for a process; ``service`` is e.g. ``resourcemanager``."""
    _process_fields.update(service=service, id=instance_id, leader_token=None)
    renderer = (structlog.dev.ConsoleRenderer() if sys.stderr.isatty()
                else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_process_fields,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # kazoo logs through the standard library; route it to stderr at WARNING.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='{"logger": "%(name)s", "level": "%(levelname)s", "event": "%(message)s"}')


def set_leader_token(token: int | None) -> None:
    """Record the leader epoch this process currently holds (None = not leading)."""
    _process_fields["leader_token"] = token


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
