"""Where contexts declare what the worker can run: a handler per topic, and periodic tasks.

A handler runs after the message's transaction committed, outside any transaction; it opens
its own unit of work through ``context.database`` when it needs one. It must be idempotent on
``context.key`` (delivery is at least once). It signals failure by raising: a
``PermanentFailure`` dead-letters the message at once, anything else is retried with back-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fidela.platform.db import Database
from fidela.platform.outbox.rules import DEFAULT_RETRY, RetryPolicy, UnknownTopic


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (bad address, rejected payload)."""


@dataclass(frozen=True)
class JobContext:
    message_id: int
    topic: str
    key: str
    attempt: int
    now: datetime
    database: Database


Handler = Callable[[JobContext, dict[str, Any]], None]


@dataclass(frozen=True)
class HandlerSpec:
    topic: str
    handler: Handler
    retry: RetryPolicy


@dataclass(frozen=True)
class PeriodicTask:
    """Enqueue ``topic`` once per ``every`` period, whatever the number of workers."""

    name: str
    topic: str
    every: timedelta
    payload: dict[str, Any] = field(default_factory=dict)


class JobRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, HandlerSpec] = {}
        self._periodic: dict[str, PeriodicTask] = {}

    def handler(
        self, topic: str, *, retry: RetryPolicy = DEFAULT_RETRY
    ) -> Callable[[Handler], Handler]:
        def register(function: Handler) -> Handler:
            self.add_handler(topic, function, retry=retry)
            return function

        return register

    def add_handler(
        self, topic: str, function: Handler, *, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        if topic in self._handlers:
            raise ValueError(f"a handler for {topic!r} is already registered")
        self._handlers[topic] = HandlerSpec(topic, function, retry)

    def add_periodic(self, task: PeriodicTask) -> None:
        if task.topic not in self._handlers:
            raise UnknownTopic(f"periodic task {task.name!r} names unknown topic {task.topic!r}")
        self._periodic[task.name] = task

    def spec(self, topic: str) -> HandlerSpec:
        try:
            return self._handlers[topic]
        except KeyError:
            raise UnknownTopic(f"no handler registered for topic {topic!r}") from None

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def periodic(self) -> list[PeriodicTask]:
        return list(self._periodic.values())
