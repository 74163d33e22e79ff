"""The same pipelines through pipevine (on Tendril's engine) and through plain asyncio with
bounded queues (what the original pipevine does), in one run, alternating.

  PYTHONPATH=python:build/release/python python3 bench/python/pipeline_bench.py [ITEMS]

Prints, per case, the median [lowest-highest] of TENDRIL_BENCH_RUNS runs (default 5).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import platform
import statistics
import sys
import time

from pipevine import Pipeline, work_pool

SENTINEL = object()


async def asyncio_pipeline(source, handlers, buffer=10):
    """A source and stages of one worker each, linked by asyncio.Queue(buffer)."""
    queues = [asyncio.Queue(buffer) for _ in range(len(handlers) + 1)]

    async def feed():
        for item in source:
            await queues[0].put(item)
        await queues[0].put(SENTINEL)

    async def stage(handler, inbound, outbound):
        state = {}
        while (item := await inbound.get()) is not SENTINEL:
            out = handler(item, state)
            if asyncio.iscoroutine(out):
                out = await out
            await outbound.put(out)
        await outbound.put(SENTINEL)

    async def drain():
        count = 0
        while await queues[-1].get() is not SENTINEL:
            count += 1
        return count

    tasks = [asyncio.ensure_future(feed())]
    tasks += [asyncio.ensure_future(stage(h, queues[i], queues[i + 1]))
              for i, h in enumerate(handlers)]
    count = await drain()
    await asyncio.gather(*tasks)
    return count


async def asyncio_pool(source, call, workers, buffer=10):
    """One stage of `workers` asyncio tasks sharing an asyncio.Queue(buffer), each awaiting
    call(item) per item: the original's work_pool for an async def handler, or a plain-asyncio
    program sending GIL-releasing work to the default executor."""
    inbound: asyncio.Queue = asyncio.Queue(buffer)
    done = 0

    async def worker():
        nonlocal done
        while (item := await inbound.get()) is not SENTINEL:
            await call(item)
            done += 1

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    for item in source:
        await inbound.put(item)
    for _ in range(workers):
        await inbound.put(SENTINEL)
    await asyncio.gather(*tasks)
    return done


def in_executor(handler):
    """call(item) for asyncio_pool: handler(item, None) on the running loop's default executor."""
    return lambda item: asyncio.get_running_loop().run_in_executor(None, handler, item, None)


def inc(x, state):
    return x + 1


async def wait_a_little(x, state):
    await asyncio.sleep(0.01)  # an I/O call's wait
    return x


def record(chart, label, unit, values, ours):
    """Appends a figure to $TENDRIL_BENCH_DATA, as bench/machine.hpp's record() does."""
    path = os.environ.get("TENDRIL_BENCH_DATA")
    if not path:
        return
    values = sorted(values)
    with open(path, "a") as f:
        f.write(f"{chart}\t{label}\t{unit}\t{statistics.median(values):.1f}\t{values[0]:.1f}\t"
                f"{values[-1]:.1f}\t{len(values)}\t{1 if ours else 0}\n")


def spread(values):
    values = sorted(values)
    return f"{statistics.median(values):,.0f} [{values[0]:,.0f}-{values[-1]:,.0f}]"


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(os.environ.get("TENDRIL_BENCH_RUNS", "5"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}; {runs} runs, engines alternating")

    three = [work_pool(buffer=10)(inc) for _ in range(3)]
    rates = {"pipevine (Tendril)": [], "plain asyncio": []}
    for _ in range(runs):
        started = time.perf_counter()
        result = asyncio.run((Pipeline(range(items)) >> three[0] >> three[1] >> three[2]).run())
        assert result.processed == items, result
        rates["pipevine (Tendril)"].append(items / (time.perf_counter() - started))
        started = time.perf_counter()
        assert asyncio.run(asyncio_pipeline(range(items), [inc, inc, inc])) == items
        rates["plain asyncio"].append(items / (time.perf_counter() - started))
    print(f"3 trivial stages, {items:,} items (items/s):")
    for name, values in rates.items():
        print(f"  {name:<22} {spread(values)}")
        record("python_trivial", name, "items per second (higher is better)", values,
               name.startswith("pipevine"))
    ratio = statistics.median(rates["pipevine (Tendril)"]) / statistics.median(rates["plain asyncio"])
    print(f"  ratio: {ratio:.2f}x")

    waits, workers = 20 * 200, 200
    stage = work_pool(buffer=10, num_workers=workers)(wait_a_little)
    # A plain function returning the coroutine: awaited by an engine thread per item, as every
    # async handler was before async def stages became coroutine stages.
    threaded = work_pool(buffer=10, num_workers=workers)(lambda x, s: wait_a_little(x, s))
    ours, by_threads, peer = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        assert asyncio.run((Pipeline(range(waits)) >> stage).run()).processed == waits
        ours.append(waits / (time.perf_counter() - started))
        started = time.perf_counter()
        assert asyncio.run((Pipeline(range(waits)) >> threaded).run()).processed == waits
        by_threads.append(waits / (time.perf_counter() - started))
        started = time.perf_counter()
        peer_run = asyncio_pool(range(waits), lambda item: wait_a_little(item, None), workers)
        assert asyncio.run(peer_run) == waits
        peer.append(waits / (time.perf_counter() - started))
    print(f"async def awaiting 10 ms, {workers} workers, {waits:,} items (items/s; the limit is "
          f"{workers / 0.01:,.0f}): pipevine {spread(ours)}, pipevine with a thread per "
          f"awaiting item {spread(by_threads)}, asyncio tasks {spread(peer)}")
    unit = "items per second (higher is better)"
    record("python_async", "pipevine (Tendril)", unit, ours, True)
    record("python_async", "pipevine, a thread per awaiting item", unit, by_threads, True)
    record("python_async", "plain asyncio tasks", unit, peer, False)

    block = os.urandom(4 << 20)

    def digest(x, state):
        return hashlib.sha256(block).digest()  # hashlib releases the GIL on large buffers

    hashes = 64
    for workers in (1, 2):
        stage = work_pool(buffer=4, num_workers=workers)(digest)
        ours, peer = [], []
        for _ in range(runs):
            started = time.perf_counter()
            assert asyncio.run((Pipeline(range(hashes)) >> stage).run()).processed == hashes
            ours.append(hashes * 4 / (time.perf_counter() - started))
            started = time.perf_counter()
            assert asyncio.run(asyncio_pool(range(hashes), in_executor(digest), workers)) == hashes
            peer.append(hashes * 4 / (time.perf_counter() - started))
        print(f"sha256 of 4 MiB blocks, {workers} worker(s) (MiB/s): pipevine {spread(ours)}, "
              f"asyncio + executor {spread(peer)}")
        unit = "MiB/s (higher is better)"
        record("python_sha256", f"pipevine, {workers} worker(s)", unit, ours, True)
        record("python_sha256", f"asyncio + executor, {workers}", unit, peer, False)


if __name__ == "__main__":
    main()
