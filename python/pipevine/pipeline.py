"""Pipeline: a source followed by stages, run on Tendril's engine."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterator, Optional, Union

import _tendril

from . import _engine
from .stage import Stage, StageMetrics, as_stage
from .util import Err

logger = logging.getLogger("pipevine.pipeline")

_NOT_ITERABLE = "Pipeline source must be Iterator or AsyncIterator"


@dataclass
class PipelineMetrics:
    start: float = 0
    stop: float = 0
    duration: float = 0
    processed: int = 0
    failed: int = 0
    stages: list = field(default_factory=list)


class _Plan:
    """One run as built: its context, source, engine stages and what settles their metrics."""

    def __init__(self, ctx: _engine.RunContext, next_item: Any, built: list) -> None:
        self.ctx, self.next_item, self.built = ctx, next_item, built


class Pipeline:
    def __init__(self, gen: Any, log: bool = False, tally_len: bool = False) -> None:
        self.generator = gen
        self.stages: list = []
        self.log = log
        self.cancel_event = asyncio.Event()
        self._log_emit = False
        self._tally_len = tally_len
        self.metrics = PipelineMetrics()
        self._error: Optional[Err] = None
        self._cancelled = False
        self._active: list = []  # RunContexts under way
        self._source: Any = None  # the iterator taken from `generator`, once
        self._source_of: Any = None

    # --- building --------------------------------------------------------------------------

    @property
    def result(self) -> Union[Err, PipelineMetrics]:
        return self._error if self._error is not None else self.metrics

    def gen(self, src: Any) -> "Pipeline":
        self.generator = src
        self._cancelled = False
        self._error = None
        self.cancel_event = asyncio.Event()
        return self

    def stage(self, x: Any) -> "Pipeline":
        if isinstance(x, Pipeline):
            x.gen(self)
            x.log = self.log
            return x
        st = as_stage(x)
        if not st.functions:
            return self
        st.log = self.log or st.log
        st._tally_len = self._tally_len
        st._kill = self._kill_switch
        self.stages.append(st)
        return self

    def __rshift__(self, x: Any) -> "Pipeline":
        return self.stage(x)

    # --- running -----------------------------------------------------------------------------

    async def run(self) -> Union[Err, PipelineMetrics]:
        if self._cancelled:
            return self.result
        self._error = None
        loop = asyncio.get_running_loop()
        plan = self._plan(loop)
        if isinstance(plan, Err):
            return plan
        emit = (lambda item: logger.info(item)) if self._log_emit else None
        done: asyncio.Future = loop.create_future()
        self._start(plan, loop, done, emit)
        try:
            outcome = await asyncio.shield(done)
        except asyncio.CancelledError:
            plan.ctx.cancel("pipeline cancelled")
            await asyncio.shield(done)
            raise
        return self._settle(plan, outcome)

    async def cancel(self, reason: Optional[str] = None) -> Union[Err, PipelineMetrics]:
        reason = "pipeline cancelled" if reason is None else reason
        self._cancel(reason)
        await asyncio.sleep(0)
        return self.result

    def async_iter(self) -> AsyncIterator[Any]:
        return self.as_async_generator()

    async def as_async_generator(self) -> AsyncIterator[Any]:
        self.metrics = PipelineMetrics()
        self._error = None
        if self.generator is None:
            raise RuntimeError("Pipeline.as_async_generator needs a self.generator")
        loop = asyncio.get_running_loop()
        plan = self._plan(loop)
        if isinstance(plan, Err):
            return
        run, started = self._open(plan)
        outcome = None
        try:
            while True:
                batch = await loop.run_in_executor(None, run.next_batch, 64)
                if not batch:
                    break
                for item in batch:
                    yield item
        finally:
            outcome = await loop.run_in_executor(None, run.finish)
            self._close(plan)
            self._settle(plan, (outcome, started, time.time()))

    def iter(self, max_buffer: int = 64) -> Iterator[Any]:
        loop_thread = _engine.LoopThread()
        try:
            plan = self._plan(loop_thread.loop)
            if isinstance(plan, Err):
                return
            run, started = self._open(plan, max_buffer)
            try:
                while True:
                    try:
                        item = run.next()
                    except StopIteration:
                        break
                    yield item
            finally:
                outcome = run.finish()
                self._close(plan)
                self._settle(plan, (outcome, started, time.time()))
        finally:
            loop_thread.stop()
        if plan.ctx.interrupt is not None:
            raise plan.ctx.interrupt
        if plan.ctx.source_error is not None:
            raise plan.ctx.source_error

    # --- inside ----------------------------------------------------------------------------

    def _kill_switch(self, reason: str) -> None:
        """A handler returned KillSwitch(reason): the run ends as if cancelled."""
        self._cancel(reason)

    def _cancel(self, reason: str) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self._error = Err(reason)
        self.cancel_event.set()
        if self.log:
            logger.info(reason)
        for ctx in list(self._active):
            ctx.cancel(reason)

    def _iterator(self) -> Any:
        """The source's iterator, taken once per generator (a second run reads it exhausted)."""
        src = self.generator
        if self._source_of is not src:
            self._source_of = src
            if hasattr(src, "__anext__") or hasattr(src, "__next__"):
                self._source = src
            elif hasattr(src, "__aiter__"):
                self._source = src.__aiter__()
            elif hasattr(src, "__iter__"):
                self._source = iter(src)
            else:
                self._source = None
        return self._source

    def _plan(self, loop: asyncio.AbstractEventLoop) -> Union[_Plan, Err]:
        ctx = _engine.RunContext(loop)
        if self.generator is None:
            return self._fail("no generator")
        if isinstance(self.generator, Pipeline):
            next_item = _parent_source(self.generator, ctx, loop)
        else:
            iterator = self._iterator()
            if iterator is None:
                return self._fail(_NOT_ITERABLE)
            next_item = _engine.make_source(iterator, ctx)
        built = [st._build(ctx, f"stage{i}") for i, st in enumerate(self.stages) if st.functions]
        return _Plan(ctx, next_item, built)

    def _fail(self, message: str) -> Err:
        self._error = Err(message)
        if self.log:
            logger.info(message)
        return self._error

    def _open(self, plan: _Plan, max_buffer: int = 64) -> tuple:
        started = time.time()
        run = _tendril.Run(plan.next_item, [b.handle for b in plan.built], max_buffer)
        plan.ctx.run = run
        _engine.opened(plan.ctx)
        self._active.append(plan.ctx)
        if self._cancelled:
            plan.ctx.cancel(self._error.value if self._error else "pipeline cancelled")
        return run, started

    def _close(self, plan: _Plan) -> None:
        _engine.closed(plan.ctx)
        if plan.ctx in self._active:
            self._active.remove(plan.ctx)

    def _start(self, plan: _Plan, loop: asyncio.AbstractEventLoop, done: asyncio.Future,
               emit: Any) -> None:
        run, started = self._open(plan)

        def drive() -> None:
            try:
                run.drain(emit)
            except BaseException as exc:  # noqa: BLE001 - an emit that raised ends the run
                plan.ctx.interrupted(exc)
                plan.ctx.cancel("pipeline cancelled")
            outcome = run.finish()
            result = (outcome, started, time.time())
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, done, result)

        _engine.start_driver(plan.ctx, drive)

    def _settle(self, plan: _Plan, result: tuple) -> Union[Err, PipelineMetrics]:
        outcome, started, stopped = result
        self._close(plan)
        engine = outcome["metrics"]
        for index, built in enumerate(plan.built):
            figures = engine["stages"][index] if engine else None
            built.settle(figures, started, stopped)
        stages = [StageMetrics(**vars(b.stage.metrics)) for b in plan.built]
        last = stages[-1].processed if stages else 0
        self.metrics = PipelineMetrics(
            started, stopped, stopped - started, last, sum(s.failed for s in stages), stages
        )
        ctx = plan.ctx
        if ctx.interrupt is not None:
            raise ctx.interrupt
        if outcome["ok"]:
            return self.result
        kind, message = outcome["kind"], outcome["message"]
        if kind == "source" and ctx.source_error is not None:
            if self.log:
                logger.info(ctx.source_error)
            self._error = Err(str(ctx.source_error))
        elif kind in ("cancelled", "kill_switch"):
            if not self._cancelled:
                self._cancel(ctx.cancel_reason or message)
        elif self._error is None:
            self._error = Err(message)
        return self.result


def _resolve(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _parent_source(parent: Pipeline, ctx: _engine.RunContext,
                   loop: asyncio.AbstractEventLoop) -> Any:
    """The source of Pipeline(parent): the parent's own run, started at the child's first pull.
    Cancelling the child cancels the parent; the parent ending (cancelled too) ends the source."""
    state: dict = {}

    def next_item() -> Any:
        if "run" not in state:
            plan = parent._plan(loop)
            if isinstance(plan, Err):
                raise StopIteration
            state["plan"] = plan
            state["run"], state["started"] = parent._open(plan)
        try:
            return state["run"].next()
        except StopIteration:
            end()
            raise

    def end() -> None:
        if "outcome" in state:
            return
        plan = state["plan"]
        state["outcome"] = state["run"].finish()
        try:
            parent._settle(plan, (state["outcome"], state["started"], time.time()))
        except BaseException as exc:  # noqa: BLE001
            ctx.interrupted(exc)

    ctx.on_cancel.append(parent._cancel)
    return next_item
