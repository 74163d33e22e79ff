"""Workers on queues of the caller's own (the original's building blocks), in plain asyncio.

Pipelines do not use these: their stages run on Tendril's engine. They are kept for code that
wires its own asyncio queues.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

from .async_util import SENTINEL, _keep
from .util import Err
from .worker_state import WorkerState

logger = logging.getLogger("pipevine.worker")


async def _attempts(f: Callable[..., Any], item: Any, state: WorkerState, retries: int) -> Any:
    result: Any = Err("retries < 1: no attempt is made")
    for _ in range(retries):
        try:
            result = f(item, state)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
        except Exception as exc:  # noqa: BLE001 - a failed attempt
            result = Err(repr(exc))
        if not isinstance(result, Err):
            return result
    return result


def worker(
    f: Callable[..., Any],
    buf_size: int,
    retries: int,
    inbound: asyncio.Queue,
    log: bool = False,
    *,
    register_task: Optional[Callable[[asyncio.Task], None]] = None,
    on_err: Optional[Callable[[Err], None]] = None,
) -> asyncio.Queue:
    """Runs f on each item of inbound (up to SENTINEL) into a FIFO queue of size 1."""
    if buf_size <= 0:
        return worker_no_buf(f, retries, inbound, log, register_task=register_task, on_err=on_err)
    return _start(f, retries, inbound, asyncio.Queue(1), log, register_task, on_err)


def worker_no_buf(
    f: Callable[..., Any],
    retries: int,
    inbound: asyncio.Queue,
    log: bool = False,
    *,
    register_task: Optional[Callable[[asyncio.Task], None]] = None,
    on_err: Optional[Callable[[Err], None]] = None,
) -> asyncio.Queue:
    """As worker(), with an unbounded output queue."""
    return _start(f, retries, inbound, asyncio.Queue(), log, register_task, on_err)


def _start(
    f: Callable[..., Any],
    retries: int,
    inbound: asyncio.Queue,
    outbound: asyncio.Queue,
    log: bool,
    register_task: Optional[Callable[[asyncio.Task], None]],
    on_err: Optional[Callable[[Err], None]],
) -> asyncio.Queue:
    state = WorkerState({})

    async def run() -> None:
        while (item := await inbound.get()) is not SENTINEL:
            result = await _attempts(f, item, state, retries)
            if isinstance(result, Err):
                if log:
                    logger.warning(result)
                if on_err is not None:
                    on_err(result)
                continue
            await outbound.put(result)
        await outbound.put(SENTINEL)

    task = asyncio.ensure_future(run())
    _keep(task)
    if register_task is not None:
        register_task(task)
    return outbound


def default_mp_ctx_method(*functions: Callable[..., Any]) -> str:
    """The original's choice of start method: "spawn" when every function pickles (the safe
    one in a program with threads, as any program running pipelines on Tendril has), else
    "fork", else the first the platform offers."""
    import multiprocessing
    import pickle

    methods = multiprocessing.get_all_start_methods()
    try:
        for f in functions:
            pickle.dumps(f)
        if "spawn" in methods:
            return "spawn"
    except Exception:  # noqa: BLE001 - not picklable: fork shares it instead
        pass
    return "fork" if "fork" in methods else methods[0]


def _mp_serve(f: Callable[..., Any], retries: int, inbound: Any, outbound: Any, log: bool,
              err_counter: Any) -> None:
    """A worker process's loop: items from inbound up to SENTINEL, results to outbound."""
    state = WorkerState({})
    while (item := inbound.get()) is not SENTINEL:
        result = asyncio.run(_attempts(f, item, state, retries))
        if isinstance(result, Err):
            if log:
                logger.warning(result)
            if err_counter is not None:
                with err_counter.get_lock():
                    err_counter.value += 1
            continue
        outbound.put(result)
    outbound.put(SENTINEL)


def mp_worker(
    f: Callable[..., Any],
    buf_size: int,
    retries: int,
    mpq: Any,
    *,
    ctx_method: Optional[str] = None,
    log: bool = False,
    err_counter: Any = None,
) -> tuple:
    """Runs f in a daemon process on each item of the multiprocessing queue mpq (up to
    SENTINEL); returns (its output queue, of size 1, ending with SENTINEL; the started
    process). `buf_size` is kept for the original's signature: the output holds one item."""
    import multiprocessing

    ctx = multiprocessing.get_context(ctx_method or default_mp_ctx_method(f))
    outbound = ctx.Queue(1)
    process = ctx.Process(
        target=_mp_serve, args=(f, retries, mpq, outbound, log, err_counter), daemon=True
    )
    process.start()
    return outbound, process
