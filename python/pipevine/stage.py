"""Stages: pools of workers that run handlers on every item, on Tendril's engine."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import time
import warnings
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Optional

import _tendril

from . import _engine, _process_worker
from .async_util import SENTINEL
from .util import Err

_worker_logger = logging.getLogger("pipevine.worker")


class PathChoice(Enum):
    One = "One"  # each item goes to one worker
    All = "All"  # each item goes to every worker; `merge` makes one result of theirs


@dataclass
class StageMetrics:
    start: float = 0
    stop: float = 0
    duration: float = 0
    processed: int = 0
    failed: int = 0


@dataclass
class KillSwitch:
    """Returned by a handler: stops the whole pipeline with `reason`."""

    reason: str


class Stage:
    """A pool of workers: functions[i] is worker i's handler (the same object for a work_pool)."""

    def __init__(
        self,
        buffer: int,
        retries: int,
        multi_proc: bool,
        functions: list,
        merge: Optional[Callable[[list], Any]] = None,
        choose: PathChoice = PathChoice.One,
        log: bool = False,
    ) -> None:
        self.buffer = buffer
        self.retries = retries
        self.multi_proc = multi_proc
        self.functions = functions
        self.merge = merge
        self._choose = choose
        self.log = log
        self.metrics = StageMetrics()
        self._tally_len = False
        self._kill: Optional[Callable[[str], None]] = None  # set by the pipeline it joins
        self._ran = False
        self._direct: Optional[_Direct] = None

    # --- on the engine -----------------------------------------------------------------------

    def _build(self, ctx: _engine.RunContext, name: str) -> "_Built":
        """This stage as an engine stage for one run, and what fills its metrics at the end."""
        self._ran = True
        self.metrics = StageMetrics()
        fork = self._choose is PathChoice.All
        tally = _engine.Tally(self._tally_len)
        multi_proc = bool(self.multi_proc) and self._processes_possible()
        # async def handlers run as coroutines of the engine's event loop, many in flight
        # without a thread each; a fork stage retries inside its handler, so it keeps threads.
        coroutine = (
            not multi_proc
            and not fork
            and all(inspect.iscoroutinefunction(f) for f in self.functions)
        )
        hooks = dict(
            multi_proc=multi_proc,
            coroutine=coroutine,
            on_schedule=ctx.schedule,
            functions=self.functions,
            workers=len(self.functions),
            buffer=self.buffer,
            on_failed=self._log_failure if self.log else None,
            name=name,
            on_await=ctx.on_loop,
            on_interrupt=ctx.interrupted,
            on_kill=self._kill,
        )
        if fork:
            merge = self.merge if self.merge is not None else list

            def merged(results: list) -> Any:
                try:
                    out = merge(results)
                except Exception:
                    tally.path_failed()  # the item fails here, once
                    raise
                tally.output(out)
                return out

            # Retried here, not by the engine: a fork stage counts a failure per failing path.
            handle = _tendril.Stage(
                retries=1, attempts=self.retries, merge=merged, on_output=None,
                on_path_failed=tally.path_failed, **hooks,
            )
        else:
            handle = _tendril.Stage(
                retries=max(self.retries, 1), attempts=1 if self.retries >= 1 else 0, merge=None,
                on_output=tally.output if self._tally_len else None, on_path_failed=None,
                **hooks,
            )
        return _Built(self, handle, tally, fork)

    def _processes_possible(self) -> bool:
        """multi_proc needs handlers that pickle (by reference: importable functions). One that
        does not runs on threads instead, as documented, with a RuntimeWarning naming it."""
        for function in self.functions:
            try:
                pickle.dumps(function)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(
                    f"multi_proc=True: handler {function!r} cannot be pickled for a worker "
                    f"process ({exc}); this stage runs on threads instead. Make it a function "
                    "at module level to run it in processes.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                return False
        _tendril.set_process_worker_command(_process_worker.command())
        return True

    @staticmethod
    def _log_failure(item: Any, message: str) -> None:
        _worker_logger.warning(Err(message))

    # --- direct use, on queues of the caller's own ---------------------------------------------

    def run(self, inbound: asyncio.Queue) -> asyncio.Queue:
        """Starts this stage on `inbound` (read up to its first SENTINEL); returns the queue of
        its outputs, which ends with one SENTINEL. Call from a coroutine."""
        loop = asyncio.get_running_loop()
        self._direct = _Direct(self, inbound, loop)
        return self._direct.outbound

    async def close(self) -> bool:
        """Ends a direct run (cancelling what is left); True if run() was ever called."""
        if self._direct is not None:
            await self._direct.close()
        return self._ran


class _Built:
    def __init__(self, stage: Stage, handle: Any, tally: _engine.Tally, fork: bool) -> None:
        self.stage, self.handle, self.tally, self.fork = stage, handle, tally, fork

    def settle(self, engine: Optional[dict], start: float, stop: float) -> None:
        """Fills the stage's metrics from the engine's figures for it."""
        processed = failed = 0
        if engine is not None:
            processed = engine["processed"] + self.tally.extra
            failed = self.tally.path_failures if self.fork else engine["failed"]
        self.stage.metrics = StageMetrics(start, stop, stop - start, processed, failed)


class _Direct:
    """Stage.run(queue): the stage on the engine between two asyncio queues."""

    def __init__(self, stage: Stage, inbound: asyncio.Queue, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.outbound: asyncio.Queue = asyncio.Queue(maxsize=max(stage.buffer, 0))
        self.ctx = _engine.RunContext(loop)
        built = stage._build(self.ctx, "stage")

        async def take() -> Any:
            item = await inbound.get()
            if item is SENTINEL:
                raise StopAsyncIteration
            return item

        class Reader:
            def __anext__(self) -> Any:
                return take()

        self.run = _tendril.Run(_engine.make_source(Reader(), self.ctx), [built.handle], 64)
        self.ctx.run = self.run
        self.done = loop.create_future()
        ctx = self.ctx

        def put(item: Any) -> None:
            asyncio.run_coroutine_threadsafe(self.outbound.put(item), loop).result()

        def drive() -> None:
            start = time.time()
            try:
                self.run.drain(put)
            except BaseException:  # noqa: BLE001 - the loop went away: end the run
                ctx.cancel("stage closed")
            outcome = self.run.finish()
            stop = time.time()
            metrics = outcome["metrics"]
            built.settle(metrics["stages"][0] if metrics else None, start, stop)
            if outcome["kind"] == "kill_switch" and stage._kill is not None:
                stage._kill(outcome["message"])
            try:
                put(SENTINEL)
            except BaseException:  # noqa: BLE001
                pass
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, self.done)

        _engine.start_driver(ctx, drive)

    async def close(self) -> None:
        self.ctx.cancel("stage closed")
        await asyncio.shield(self.done)


def _settle(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


def work_pool(
    *,
    buffer: int = 1,
    retries: int = 1,
    num_workers: int = 1,
    multi_proc: bool = False,
    fork_merge: Optional[Callable[[list], Any]] = None,
) -> Callable[[Callable[..., Any]], Stage]:
    """A stage of num_workers workers running the decorated handler."""

    def decorate(f: Callable[..., Any]) -> Stage:
        choose = PathChoice.All if fork_merge is not None else PathChoice.One
        return Stage(buffer, retries, multi_proc, [f] * num_workers, fork_merge, choose)

    return decorate


def mix_pool(
    *,
    buffer: int = 1,
    retries: int = 1,
    multi_proc: bool = False,
    fork_merge: Optional[Callable[[list], Any]] = None,
) -> Callable[[Callable[[], list]], Stage]:
    """A stage of one worker per handler of the decorated factory (called once, now)."""

    def decorate(factory: Callable[[], list]) -> Stage:
        choose = PathChoice.All if fork_merge is not None else PathChoice.One
        return Stage(buffer, retries, multi_proc, list(factory()), fork_merge, choose)

    return decorate


def as_stage(f: Any) -> Stage:
    """A Stage unchanged; a handler as a one-worker stage."""
    if isinstance(f, Stage):
        return f
    return Stage(1, 1, False, [f], None)
