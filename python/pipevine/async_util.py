"""The end-of-stream marker, and helpers for asyncio queues of users' own."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any, Callable, Sequence


class Marker(Enum):
    STOP = "STOP"

    def __reduce__(self) -> Any:  # pickles to itself, so `is` holds across processes
        return (_marker, (self.value,))


def _marker(value: str) -> "Marker":
    return Marker(value)


SENTINEL = Marker.STOP


async def multiplex_async_queues(queues: Sequence[asyncio.Queue]) -> asyncio.Queue:
    """One queue with every item of `queues`, then one SENTINEL once each has ended."""
    out: asyncio.Queue = asyncio.Queue(1)

    async def forward(q: asyncio.Queue) -> None:
        while (item := await q.get()) is not SENTINEL:
            await out.put(item)

    async def run() -> None:
        await asyncio.gather(*(forward(q) for q in queues))
        await out.put(SENTINEL)

    _keep(asyncio.ensure_future(run()))
    return out


async def multiplex_and_merge_async_queues(
    queues: Sequence[asyncio.Queue], merge: Callable[[list], Any]
) -> asyncio.Queue:
    """Takes one item from each queue in lockstep and puts merge(items); SENTINEL at the end."""
    out: asyncio.Queue = asyncio.Queue(1)

    async def run() -> None:
        while True:
            items = [await q.get() for q in queues]
            if any(item is SENTINEL for item in items):
                break
            await out.put(merge(items))
        await out.put(SENTINEL)

    _keep(asyncio.ensure_future(run()))
    return out


async def make_shared_inbound_for_pool(
    up: asyncio.Queue, *, n_workers: int, maxsize: int = 1
) -> asyncio.Queue:
    """A queue the n workers of a pool share: up's items, then n SENTINELs."""
    shared: asyncio.Queue = asyncio.Queue(maxsize)

    async def run() -> None:
        while (item := await up.get()) is not SENTINEL:
            await shared.put(item)
        for _ in range(n_workers):
            await shared.put(SENTINEL)

    _keep(asyncio.ensure_future(run()))
    return shared


async def make_broadcast_inbounds(up: asyncio.Queue, *, sizes: Sequence[int]) -> list:
    """One queue per size, each getting every item of up, then SENTINEL."""
    outs = [asyncio.Queue(size) for size in sizes]

    async def run() -> None:
        while True:
            item = await up.get()
            for q in outs:
                await q.put(item)
            if item is SENTINEL:
                break

    _keep(asyncio.ensure_future(run()))
    return outs


_tasks: set = set()


def _keep(task: "asyncio.Future[Any]") -> None:
    # A task nobody references may be collected mid-flight; hold it until it is done.
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def mp_to_async_queue(mpq: Any) -> asyncio.Queue:
    """An asyncio queue with the items of a multiprocessing queue, up to and with SENTINEL;
    a thread does the blocking reads. Call from a coroutine."""
    import threading

    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue(1)

    def pump() -> None:
        while True:
            item = mpq.get()
            asyncio.run_coroutine_threadsafe(out.put(item), loop).result()
            if item is SENTINEL:
                return

    threading.Thread(target=pump, name="pipevine-mp-reader", daemon=True).start()
    return out


def async_to_mp_queue(aq: asyncio.Queue, *, ctx_method: str = "spawn") -> Any:
    """A multiprocessing queue with the items of an asyncio queue, up to and with SENTINEL."""
    import multiprocessing

    mpq = multiprocessing.get_context(ctx_method).Queue(1)
    loop = asyncio.get_running_loop()

    async def pump() -> None:
        while True:
            item = await aq.get()
            await loop.run_in_executor(None, mpq.put, item)
            if item is SENTINEL:
                return

    _keep(asyncio.ensure_future(pump()))
    return mpq


async def async_to_mp_queue_with_ready(aq: asyncio.Queue, sentinel_count: int = 1) -> Any:
    """As async_to_mp_queue, with `sentinel_count` SENTINELs at the end (one per reading
    process); returns once the pump is running."""
    import multiprocessing

    mpq = multiprocessing.get_context("spawn").Queue(1)
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    async def pump() -> None:
        ready.set()
        while (item := await aq.get()) is not SENTINEL:
            await loop.run_in_executor(None, mpq.put, item)
        for _ in range(sentinel_count):
            await loop.run_in_executor(None, mpq.put, SENTINEL)

    _keep(asyncio.ensure_future(pump()))
    await ready.wait()
    return mpq
