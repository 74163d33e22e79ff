"""How pipevine's stages and sources run on Tendril's engine (the _tendril module).

Each run gets a RunContext: the asyncio loop its awaitables run on (the caller's, or iter()'s
own), the concurrent futures in flight there (cancel reaches them), and the first exception
that is not an Exception (KeyboardInterrupt, SystemExit...), which ends the run and is raised
again to its caller. Engine threads call handlers themselves (in _tendril), with the GIL, and
come here only for what needs Python: awaiting on the loop, and the hooks of a Tally.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import signal
import threading
import weakref
from typing import Any, Callable, Optional

import _tendril

from .util import Err, _awaitable
from .worker_state import WorkerState


def _set_types() -> None:
    from .stage import KillSwitch

    _tendril.set_types(Err, KillSwitch, WorkerState)


class RunContext:
    def __init__(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self.loop = loop
        self.inflight: set = set()
        self.interrupt: Optional[BaseException] = None
        self.source_error: Optional[BaseException] = None
        self.cancel_reason: Optional[str] = None
        self.run: Optional[_tendril.Run] = None
        self.on_cancel: list = []  # more to cancel with this run (a parent pipeline's run)

    def on_loop(self, awaitable: Any) -> Any:
        """Awaits `awaitable` on the run's loop from an engine thread; waits without the GIL."""
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("an awaitable handler needs a running event loop")
        future = asyncio.run_coroutine_threadsafe(_awaitable(awaitable), self.loop)
        self.inflight.add(future)
        try:
            if self.cancel_reason is not None:
                future.cancel()
            return future.result()
        finally:
            self.inflight.discard(future)

    def schedule(self, awaitable: Any) -> concurrent.futures.Future:
        """Starts `awaitable` on the run's loop from the engine; returns its future, which the
        engine waits on without a thread. Cancelled with the run."""
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("an awaitable handler needs a running event loop")
        if not asyncio.iscoroutine(awaitable):
            awaitable = _awaitable(awaitable)  # a future or another awaitable: wrapped once
        future = asyncio.run_coroutine_threadsafe(awaitable, self.loop)
        self.inflight.add(future)
        future.add_done_callback(self.inflight.discard)
        if self.cancel_reason is not None:
            future.cancel()
        return future

    def cancel(self, reason: str) -> None:
        """Ends the run with `reason`; in-flight awaitables are cancelled. Idempotent."""
        if self.cancel_reason is not None:
            return
        self.cancel_reason = reason
        if self.run is not None:
            self.run.cancel(reason)
        for future in list(self.inflight):
            future.cancel()
        for more in self.on_cancel:
            more(reason)

    def interrupted(self, exc: BaseException) -> None:
        if self.interrupt is None:
            self.interrupt = exc


class Tally:
    """A stage's counts that the engine cannot know: len() of sized outputs (tally_len), and
    failures per fork path."""

    def __init__(self, lengths: bool) -> None:
        self.lengths = lengths
        self.extra = 0  # sum of len(out) - 1 over sized outputs
        self.path_failures = 0
        self._lock = threading.Lock()

    def output(self, out: Any) -> None:
        if self.lengths and hasattr(out, "__len__"):
            with self._lock:
                self.extra += len(out) - 1

    def path_failed(self) -> None:
        with self._lock:
            self.path_failures += 1


def make_source(generator: Any, ctx: RunContext) -> Callable[[], Any]:
    """next_item() for the engine's source thread: the next item, StopIteration at the end.
    An async iterator is stepped on the run's loop."""
    if hasattr(generator, "__anext__"):
        iterator = generator

        def step() -> Any:
            try:
                return ctx.on_loop(iterator.__anext__())
            except (StopAsyncIteration, concurrent.futures.CancelledError):
                raise StopIteration from None

    else:
        step = generator.__next__

    def next_item() -> Any:
        try:
            return step()
        except StopIteration:
            raise
        except Exception as exc:
            ctx.source_error = exc
            raise
        except BaseException as exc:
            ctx.interrupted(exc)
            raise RuntimeError("interrupted") from None

    return next_item


# What is ended at exit, while the interpreter still runs (atexit comes before finalizing), so
# that no engine thread outlives it: an engine thread that asks for the GIL once the interpreter
# is finalizing is ended by Python in the middle of its work. Threads that drive runs (joined
# after their runs are cancelled), the contexts of runs opened and not yet closed (iter() and
# async_iter() runs have no thread of their own: a generator left suspended keeps its run going;
# cancelling the context cancels its awaitables in flight too), and iter()'s private loops.
_live_lock = threading.Lock()
_live: dict = {}
_open_runs: "weakref.WeakSet[RunContext]" = weakref.WeakSet()
_loop_threads: "weakref.WeakSet[LoopThread]" = weakref.WeakSet()


def opened(ctx: RunContext) -> None:
    """Records a run just opened (ctx.run set), to be ended at exit if it is still open then."""
    with _live_lock:
        _open_runs.add(ctx)


def closed(ctx: RunContext) -> None:
    """The run has ended (its finish() returned): nothing is left to end at exit."""
    with _live_lock:
        _open_runs.discard(ctx)


# Signals a thread of ours leaves to the main thread: Python runs their handlers there only, and
# one that lands elsewhere wakes nobody (an asyncio loop waiting in epoll would miss a Ctrl-C).
_PROCESS_SIGNALS = {
    signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGALRM, signal.SIGCHLD, signal.SIGWINCH,
}


def start_leaving_signals_to_the_main_thread(thread: threading.Thread) -> None:
    """Starts `thread` with the process's signals blocked from its first instruction (a thread
    inherits the mask of the one that starts it); one sent meanwhile waits until the caller
    unblocks it again, a moment later."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _PROCESS_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_driver(ctx: RunContext, target: Callable[[], None]) -> threading.Thread:
    def body() -> None:
        try:
            target()
        finally:
            with _live_lock:
                _live.pop(thread, None)

    thread = threading.Thread(target=body, name="pipevine-run", daemon=True)
    with _live_lock:
        _live[thread] = ctx
    start_leaving_signals_to_the_main_thread(thread)
    return thread


@atexit.register
def _end_runs_at_exit() -> None:
    with _live_lock:
        live = list(_live.items())
        runs = list(_open_runs)
        loops = list(_loop_threads)
    for ctx in [ctx for _, ctx in live] + runs:  # their awaitables in flight too
        ctx.cancel("interpreter exiting")
    for thread, _ in live:
        thread.join(timeout=10)
    # Every run still open, whoever made it, has ended when this returns; none starts later.
    _tendril.end_runs("interpreter exiting")
    for loop_thread in loops:
        loop_thread.stop()


class LoopThread:
    """A private event loop in a thread, for iter(): async handlers and sources run there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="pipevine-iter-loop", daemon=True
        )
        start_leaving_signals_to_the_main_thread(self._thread)
        with _live_lock:
            _loop_threads.add(self)

    def stop(self) -> None:
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
