"""ToolStatePublisher on Tendril's lock-free publisher: publish_data() queues and returns; a
background engine thread sends everything queued as one XADD per flush, in the original's bytes
(json.dumps's formatting; attributes event_type, count, timestamp)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import weakref
from dataclasses import asdict
from typing import Any, Optional

import _tendril

from .tool_state import ToolState

logger = logging.getLogger("tool_state_publisher")


def _set_up_root_logger() -> None:
    """As the original does without Prefect: fallback lines must show somewhere."""
    try:
        root = logging.getLogger()
        if root.handlers:
            return
        try:
            from rich.logging import RichHandler  # type: ignore[import-not-found]

            handler: logging.Handler = RichHandler()
        except Exception:  # noqa: BLE001 - rich is optional
            handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
        root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    except Exception:  # noqa: BLE001 - never fail the import
        pass


_set_up_root_logger()

QUEUE_SIZE = 10_000


def _redis_configured() -> bool:
    return bool(os.environ.get("PREFECT_REDIS_MESSAGING_HOST")) and bool(
        os.environ.get("PREFECT_REDIS_MESSAGING_PASSWORD")
    )


_publishers: "weakref.WeakSet[ToolStatePublisher]" = weakref.WeakSet()

_ENGINE_PREFIX = "tendril: tool-state publisher: "


# The engine's hooks, called on its worker thread. Module functions, not methods: an engine
# holding its owner would be a cycle the garbage collector cannot see.
def _log_batch(count: int) -> None:
    logger.info(f"Publishing batch of {count} tool state updates.")


def _log_warning(line: str) -> None:
    logger.warning(line.removeprefix(_ENGINE_PREFIX))


class ToolStatePublisher:
    def __init__(self, topic_name: str = "progress", flush_interval: float = 1,
                 batch_size: int = 20) -> None:
        self.topic_name = topic_name
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._engine: Optional[Any] = None
        self._lock = threading.Lock()
        self._stopped = False
        if _redis_configured():
            self._engine = _tendril.Publisher(
                topic_name, float(flush_interval), int(batch_size), QUEUE_SIZE, 0,
                python_wire=True, on_batch=_log_batch, on_warning=_log_warning,
            )
            _publishers.add(self)
            logger.info("Tool state publisher worker started.")
        else:
            logger.warning(
                "Redis messaging not configured or not running in Prefect environment; tool "
                "state updates will be logged instead of published."
            )

    @property
    def started(self) -> bool:
        return self._engine is not None

    def publish_data(self, tool_state: ToolState) -> None:
        self.publish_dict(asdict(tool_state))

    def publish_dict(self, data: dict) -> None:
        """Queues one state; never blocks. Without Redis (or after shutdown) it is logged."""
        engine = self._engine
        if engine is None or self._stopped:
            logger.info(f"ToolState (fallback): {data}")
            return
        try:
            queued = engine.publish_json(json.dumps(data))
        except Exception as exc:  # noqa: BLE001 - enqueue errors are only logged
            logger.error(f"Failed to queue tool state for publishing: {exc}")
            return
        if not queued:
            logger.warning("Tool state queue is full. Dropping message.")

    def stats(self) -> dict:
        """The engine's counts: published, sent, batches, dropped, retries, depth..."""
        return self._engine.stats() if self._engine is not None else {}

    def shutdown(self) -> None:
        """Stops intake, sends what is queued, stops the worker (waits at most 10 s)."""
        if self._engine is None:
            return
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        logger.info("Flushing tool state publisher queue and shutting down worker")
        self._engine.shutdown(10.0)
        logger.info("Tool state publisher worker stopped.")


_singleton: Optional[ToolStatePublisher] = None
_singleton_lock = threading.Lock()


def get_tool_state_publisher(topic_name: str = "progress", flush_interval: float = 1,
                             batch_size: int = 20) -> ToolStatePublisher:
    """The process's one publisher; later arguments are ignored (a warning if they differ)."""
    global _singleton
    with _singleton_lock:
        if _singleton is None:
            _singleton = ToolStatePublisher(topic_name, flush_interval, batch_size)
        elif (topic_name, flush_interval, batch_size) != (
            _singleton.topic_name, _singleton.flush_interval, _singleton.batch_size
        ):
            logger.warning(
                "get_tool_state_publisher: the publisher exists already (topic "
                f"{_singleton.topic_name!r}); the new arguments are ignored"
            )
        return _singleton


@atexit.register
def _flush_at_exit() -> None:
    for publisher in list(_publishers):
        publisher.shutdown()
