"""pipevine pipelines on the engine: the seed README's examples and PYTHON.md's behaviours."""

import asyncio
import os
import threading
import time

import pytest

from pipevine import Err, Pipeline, WorkerState, is_err, mix_pool, work_pool
from pipevine.pipeline import PipelineMetrics
from pipevine.stage import KillSwitch, PathChoice, Stage, StageMetrics, as_stage


# --- the README's examples ---------------------------------------------------------------------

@work_pool(buffer=10, retries=3, num_workers=4)
async def process_data(item, state):
    return item * 2


@work_pool(buffer=5, retries=1)
async def validate_data(item, state):
    if item < 0:
        raise ValueError("Negative values not allowed")
    return item


async def test_quick_start_runs_every_item_through_async_handlers():
    pipe = Pipeline(range(100)) >> process_data >> validate_data
    result = await pipe.run()
    assert isinstance(result, PipelineMetrics)
    assert result.processed == 100 and result.failed == 0
    assert [s.processed for s in result.stages] == [100, 100]


def test_quick_start_as_an_iterator_from_sync_code():
    pipe = Pipeline(range(100)) >> process_data >> validate_data
    assert sorted(pipe.iter()) == [i * 2 for i in range(100)]


async def test_method_chaining_equals_the_operator():
    double = work_pool()(lambda x, s: x * 2)
    inc = work_pool()(lambda x, s: x + 1)
    a = Pipeline(range(5)).stage(double).stage(inc)
    assert list(a.iter()) == [1, 3, 5, 7, 9]


async def test_fork_mode_merges_every_worker_result():
    @work_pool(num_workers=3, fork_merge=lambda results: sum(results))
    def aggregate(item, state):
        return item

    assert list((Pipeline([1, 2, 3]) >> aggregate).iter()) == [3, 6, 9]


async def test_mix_pool_fork_merges_in_function_order():
    @mix_pool(fork_merge=lambda results: {**results[0], **results[1]})
    def analyze():
        return [
            lambda item, state: {"sentiment": item % 2},
            lambda item, state: {"keywords": [item]},
        ]

    out = list((Pipeline(range(3)) >> analyze).iter())
    assert out == [{"sentiment": i % 2, "keywords": [i]} for i in range(3)]


async def test_semantics_fork_examples():
    inc = work_pool()(lambda x, s: x + 1)
    dec = work_pool()(lambda x, s: x - 1)
    times = mix_pool(fork_merge=sum)(lambda: [lambda x, s: x * 2, lambda x, s: x * 3])
    assert list((Pipeline([1, 2]) >> inc >> times >> dec).iter()) == [9, 14]
    double = work_pool()(lambda x, s: x * 2)
    ten = work_pool()(lambda x, s: x + 10)
    assert list((Pipeline([1, 2, 3]) >> inc >> double >> ten).iter()) == [14, 16, 18]


async def test_nesting_a_pipeline_as_the_tail_replaces_its_generator():
    inc = work_pool()(lambda x, s: x + 1)
    double = work_pool()(lambda x, s: x * 2)
    tail = Pipeline(iter([])) >> double
    whole = Pipeline([1, 2, 3]) >> inc >> tail
    assert whole is tail
    result = await whole.run()
    assert result.processed == 3


async def test_nesting_a_pipeline_as_the_source():
    inc = work_pool()(lambda x, s: x + 1)
    double = work_pool()(lambda x, s: x * 2)
    parent = Pipeline([1, 2, 3]) >> inc
    child = Pipeline(parent) >> double
    assert list(child.iter()) == [4, 6, 8]
    assert parent.metrics.processed == 3


async def test_error_handling_counts_failures_and_still_succeeds():
    @work_pool(retries=3)
    async def might_fail(item, state):
        if item % 2:
            raise ValueError("Processing failed")
        return item * 2

    result = await (Pipeline(range(10)) >> might_fail).run()
    assert not is_err(result)
    assert result.processed == 5 and result.failed == 5


# --- behaviours --------------------------------------------------------------------------------

async def test_each_worker_has_its_own_state():
    seen = []
    lock = threading.Lock()

    @work_pool(num_workers=3, buffer=3)
    def count(item, state):
        n = state.get("n", 0) + 1
        state.update(n=n)
        time.sleep(0.01)  # keep every worker busy so that each takes three items
        with lock:
            seen.append(n)
        return item

    result = await (Pipeline(range(9)) >> count).run()
    assert result.processed == 9
    # Three states, each counting its own items from 1: 1,1,1,2,2,2,3,3,3 when the workers
    # share the items evenly (one shared state would count 1..9).
    tally = [seen.count(n) for n in range(1, 10)]
    assert tally[0] == 3 and sum(tally) == 9
    assert all(a >= b for a, b in zip(tally, tally[1:])), sorted(seen)


async def test_state_values_are_a_real_dict_holding_the_same_objects():
    marker = object()
    got = []

    @work_pool()
    def keep(item, state):
        assert isinstance(state, WorkerState)
        if "m" not in state.values:
            state.update(m=marker)
        got.append(state.get("m"))
        return item

    await (Pipeline(range(3)) >> keep).run()
    assert all(m is marker for m in got) and len(got) == 3


async def test_items_pass_through_as_the_same_objects():
    items = [object() for _ in range(5)]
    same = work_pool()(lambda x, s: x)
    assert all(a is b for a, b in zip(items, (Pipeline(items) >> same).iter()))


async def test_retries_are_total_attempts_and_a_returned_err_is_a_failed_attempt():
    attempts = {}

    @work_pool(retries=3)
    def flaky(item, state):
        attempts[item] = attempts.get(item, 0) + 1
        if attempts[item] < 3:
            return Err("not yet")
        return item

    result = await (Pipeline(range(4)) >> flaky).run()
    assert result.processed == 4 and result.failed == 0
    assert attempts == {0: 3, 1: 3, 2: 3, 3: 3}


async def test_an_async_handler_exception_is_retried_and_later_items_still_run():
    attempts = {}

    @work_pool(retries=2)
    async def flaky(item, state):
        await asyncio.sleep(0)
        attempts[item] = attempts.get(item, 0) + 1
        if item == 1:
            raise ValueError("always")
        if attempts[item] == 1:
            raise ValueError("once")
        return item

    result = await (Pipeline(range(5)) >> flaky).run()
    assert result.processed == 4 and result.failed == 1
    assert attempts == {0: 2, 1: 2, 2: 2, 3: 2, 4: 2}


async def test_retries_below_one_fail_every_item():
    called = []
    stage = work_pool(retries=0)(lambda x, s: called.append(x))
    result = await (Pipeline(range(3)) >> stage).run()
    assert result.processed == 0 and result.failed == 3 and called == []


async def test_wrong_arity_is_a_counted_failure():
    stage = work_pool()(lambda x: x)
    result = await (Pipeline(range(3)) >> stage).run()
    assert result.failed == 3


async def test_one_worker_keeps_fifo_order():
    stage = work_pool(buffer=4)(lambda x, s: x)
    assert list((Pipeline(range(200)) >> stage).iter()) == list(range(200))


async def test_async_handlers_run_on_the_callers_loop_and_share_its_objects():
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    loops = []

    @work_pool(num_workers=4)
    async def wait_for_event(item, state):
        loops.append(asyncio.get_running_loop())
        await event.wait()
        return item

    task = asyncio.ensure_future((Pipeline(range(4)) >> wait_for_event).run())
    await asyncio.sleep(0.2)  # the loop stays free while the engine waits
    assert not task.done()
    event.set()
    result = await asyncio.wait_for(task, 10)
    assert result.processed == 4
    assert all(l is loop for l in loops)


async def test_many_async_items_are_in_flight_at_once_without_a_thread_each():
    in_flight = 0
    most = 0
    most_threads = 0

    @work_pool(num_workers=300, buffer=10)
    async def slow(item, state):
        nonlocal in_flight, most, most_threads
        in_flight += 1
        most = max(most, in_flight)
        most_threads = max(most_threads, len(os.listdir("/proc/self/task")))
        await asyncio.sleep(0.2)
        in_flight -= 1
        return item

    started = time.monotonic()
    result = await (Pipeline(range(900)) >> slow).run()
    assert result.processed == 900
    assert most == 300  # every worker awaiting at once, never more
    # Coroutine frames on the engine's event loop, not a thread per worker (the old front had
    # one engine thread blocked per awaiting item).
    assert most_threads < 30
    assert time.monotonic() - started < 10  # 900 x 200 ms one at a time would be 180 s


async def test_async_stages_back_to_back_with_small_buffers_keep_flowing():
    @work_pool(num_workers=8, buffer=2)
    async def first(item, state):
        await asyncio.sleep(0)
        return item * 2

    @work_pool(buffer=1)
    async def second(item, state):
        await asyncio.sleep(0)
        return item + 1

    result = await asyncio.wait_for((Pipeline(range(2000)) >> first >> second).run(), 30)
    assert result.processed == 2000 and result.failed == 0


async def test_a_kill_switch_cancels_the_coroutines_still_awaiting():
    waiting = 0
    cancelled = 0

    @work_pool(num_workers=25)  # a worker free for the last item while 20 wait
    async def hang(item, state):
        nonlocal waiting, cancelled
        if item == 20:
            return item
        waiting += 1
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return item

    @work_pool()
    def stop(item, state):
        return KillSwitch("enough")

    started = time.monotonic()
    result = await asyncio.wait_for((Pipeline(range(21)) >> hang >> stop).run(), 10)
    assert result == Err("enough")
    assert time.monotonic() - started < 5
    for _ in range(100):  # the cancellations land on this loop
        if cancelled == waiting:
            break
        await asyncio.sleep(0.01)
    assert waiting == 20 and cancelled == 20


async def test_a_kill_switch_stops_the_run_with_its_reason():
    @work_pool()
    def stop_at_three(item, state):
        if item == 3:
            return KillSwitch("enough")
        return item

    pipe = Pipeline(range(1000)) >> stop_at_three
    result = await pipe.run()
    assert is_err(result) and str(result) == "enough"
    assert pipe.result == Err("enough")


async def test_a_kill_switch_from_a_fork_path_is_honoured():
    @mix_pool(fork_merge=sum)
    def paths():
        return [lambda x, s: x, lambda x, s: KillSwitch("path b") if x == 2 else x]

    result = await (Pipeline(range(100)) >> paths).run()
    assert is_err(result) and str(result) == "path b"


async def test_a_raising_merge_fails_only_its_item():
    def merge(results):
        if results[0] == 2:
            raise ValueError("no merge")
        return sum(results)

    stage = mix_pool(fork_merge=merge)(lambda: [lambda x, s: x, lambda x, s: x])
    pipe = Pipeline(range(5)) >> stage
    assert list(pipe.iter()) == [0, 2, 6, 8]
    assert pipe.metrics.failed == 1


async def test_fork_counts_failures_per_failing_path():
    stage = mix_pool(fork_merge=sum)(lambda: [
        lambda x, s: (_ for _ in ()).throw(ValueError("a")),
        lambda x, s: (_ for _ in ()).throw(ValueError("b")),
    ])
    result = await (Pipeline(range(3)) >> stage).run()
    assert result.failed == 6 and result.processed == 0


async def test_tally_len_counts_len_of_sized_outputs():
    split = work_pool()(lambda x, s: "ab" * x)
    result = await Pipeline([1, 2, 3], tally_len=True).stage(split).run()
    assert result.processed == 2 + 4 + 6


async def test_source_raise_is_an_err_after_earlier_items():
    seen = []

    def source():
        yield 1
        yield 2
        raise ValueError("source broke")

    stage = work_pool()(lambda x, s: seen.append(x) or x)
    result = await (Pipeline(source()) >> stage).run()
    assert result == Err("source broke")
    assert seen == [1, 2]


async def test_no_generator_and_a_source_that_is_not_iterable():
    assert await Pipeline(None).run() == Err("no generator")
    assert await Pipeline(42).run() == Err("Pipeline source must be Iterator or AsyncIterator")


async def test_an_async_iterator_source_runs_on_the_loop():
    async def numbers():
        for i in range(5):
            await asyncio.sleep(0)
            yield i

    stage = work_pool()(lambda x, s: x * 10)
    pipe = Pipeline(numbers()) >> stage
    result = await pipe.run()
    assert result.processed == 5


async def test_a_second_run_reads_the_exhausted_source_and_is_ok_with_nothing():
    stage = work_pool()(lambda x, s: x)
    pipe = Pipeline([1, 2, 3]) >> stage
    assert (await pipe.run()).processed == 3
    second = await pipe.run()
    assert isinstance(second, PipelineMetrics) and second.processed == 0


async def test_empty_stages_are_skipped():
    pipe = Pipeline([1]) >> Stage(1, 1, False, [])
    assert pipe.stages == []


async def test_cancel_during_a_run_ends_it_within_two_seconds_even_if_handlers_hang():
    @work_pool(num_workers=2)
    async def forever(item, state):
        await asyncio.Event().wait()

    pipe = Pipeline(range(10)) >> forever
    task = asyncio.ensure_future(pipe.run())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    assert await pipe.cancel("stop now") == Err("stop now")
    assert await asyncio.wait_for(task, 2) == Err("stop now")
    assert time.monotonic() - started < 2
    # Cancelled, no gen() since: later runs return the stored result and run nothing.
    assert await pipe.run() == Err("stop now")
    assert await pipe.cancel("other") == Err("stop now")


async def test_cancel_default_reason_and_gen_clears_it():
    stage = work_pool()(lambda x, s: x)
    pipe = Pipeline([1]) >> stage
    assert await pipe.cancel() == Err("pipeline cancelled")
    pipe.gen([1, 2])
    assert (await pipe.run()).processed == 2


async def test_cancelling_the_task_awaiting_run_stops_everything():
    running = threading.Event()

    @work_pool()
    def slow(item, state):
        running.set()
        time.sleep(0.01)
        return item

    task = asyncio.ensure_future((Pipeline(iter(range(10**9))) >> slow).run())
    await asyncio.get_running_loop().run_in_executor(None, running.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    await asyncio.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "pipevine-run"]


async def test_cancelling_a_child_cancels_its_parent():
    @work_pool()
    async def forever(item, state):
        await asyncio.Event().wait()

    parent = Pipeline(range(10)) >> forever
    child = Pipeline(parent) >> work_pool()(lambda x, s: x)
    task = asyncio.ensure_future(child.run())
    await asyncio.sleep(0.1)
    await child.cancel("child says stop")
    assert await asyncio.wait_for(task, 5) == Err("child says stop")
    assert parent.result == Err("child says stop")


async def test_cancelling_the_parent_ends_the_childs_source_and_the_child_is_ok():
    @work_pool()
    async def slow(item, state):
        await asyncio.sleep(0.01)
        return item

    parent = Pipeline(iter(range(10**9))) >> slow
    child = Pipeline(parent) >> work_pool()(lambda x, s: x)
    task = asyncio.ensure_future(child.run())
    await asyncio.sleep(0.2)
    await parent.cancel("parent stops")
    result = await asyncio.wait_for(task, 5)
    assert isinstance(result, PipelineMetrics) and result.processed > 0


def test_leaving_iter_early_cancels_the_run_and_ends_its_threads():
    stage = work_pool()(lambda x, s: x)
    gen = (Pipeline(iter(range(10**9))) >> stage).iter()
    assert next(gen) == 0
    gen.close()
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("pipevine")]


async def test_iter_works_inside_a_running_loop_with_async_handlers():
    @work_pool(num_workers=3)
    async def slow(item, state):
        await asyncio.sleep(0.001)
        return item + 1

    assert sorted((Pipeline(range(10)) >> slow).iter()) == list(range(1, 11))


def test_iter_reraises_the_source_exception():
    def source():
        yield 1
        raise KeyError("gone")

    stage = work_pool()(lambda x, s: x)
    with pytest.raises(KeyError):
        list((Pipeline(source()) >> stage).iter())


async def test_async_iter_yields_outputs_and_no_sentinel():
    stage = work_pool()(lambda x, s: x + 1)
    pipe = Pipeline(range(5)) >> stage
    out = [x async for x in pipe.async_iter()]
    assert out == [1, 2, 3, 4, 5]
    assert pipe.metrics.processed == 5


async def test_async_iter_without_a_generator_raises():
    with pytest.raises(RuntimeError, match="needs a self.generator"):
        async for _ in Pipeline(None).async_iter():
            pass


async def test_log_emit_logs_every_output_through_the_pipeline_logger(caplog):
    caplog.set_level("INFO", logger="pipevine.pipeline")
    pipe = Pipeline([1, 2, 3]) >> work_pool()(lambda x, s: x * 10)
    pipe._log_emit = True
    await pipe.run()
    messages = [r.msg for r in caplog.records if r.name == "pipevine.pipeline"]
    assert messages == [10, 20, 30]


async def test_stage_log_warns_each_failed_item(caplog):
    caplog.set_level("WARNING", logger="pipevine.worker")

    @work_pool()
    def bad(item, state):
        raise ValueError(f"bad {item}")

    await Pipeline([1, 2], log=True).stage(bad).run()
    warned = [str(r.msg) for r in caplog.records if r.name == "pipevine.worker"]
    assert warned == ["ValueError('bad 1')", "ValueError('bad 2')"]


async def test_metrics_are_dataclasses_with_times_in_seconds():
    before = time.time()
    result = await (Pipeline(range(3)) >> work_pool()(lambda x, s: x)).run()
    assert before <= result.start <= result.stop <= time.time()
    assert isinstance(result.stages[0], StageMetrics)
    assert result.stages[0].processed == 3


def test_stage_constructors():
    f = lambda x, s: x  # noqa: E731
    st = work_pool(num_workers=3)(f)
    assert st.functions == [f, f, f] and st._choose is PathChoice.One
    assert as_stage(st) is st
    one = as_stage(f)
    assert (one.buffer, one.retries, one.multi_proc, one.functions) == (1, 1, False, [f])
    forked = work_pool(num_workers=2, fork_merge=sum)(f)
    assert forked._choose is PathChoice.All and forked.merge is sum


async def test_direct_stage_run_reads_a_queue_up_to_its_sentinel():
    from pipevine import SENTINEL

    stage = work_pool(buffer=2)(lambda x, s: x * 3)
    inbound = asyncio.Queue()
    for i in range(4):
        inbound.put_nowait(i)
    inbound.put_nowait(SENTINEL)
    out = stage.run(inbound)
    got = []
    while (item := await asyncio.wait_for(out.get(), 5)) is not SENTINEL:
        got.append(item)
    assert got == [0, 3, 6, 9]
    assert await stage.close() is True
    assert stage.metrics.processed == 4


async def test_a_handlers_keyboard_interrupt_ends_the_run_and_is_raised_again():
    @work_pool()
    def interrupt(item, state):
        if item == 2:
            raise KeyboardInterrupt
        return item

    with pytest.raises(KeyboardInterrupt):
        await (Pipeline(iter(range(10**9))) >> interrupt).run()

    @work_pool()
    def leave(item, state):
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        list((Pipeline(range(5)) >> leave).iter())


async def test_a_scheduled_async_iter_consumer_resets_the_result_a_cancel_reads():
    pipe = Pipeline(range(5)) >> work_pool()(lambda x, s: x)
    got = []

    async def consume():
        async for item in pipe.async_iter():
            got.append(item)

    task = asyncio.ensure_future(consume())  # scheduled, not yet started
    result = await pipe.cancel("stop")
    await asyncio.wait_for(task, 5)
    assert isinstance(result, PipelineMetrics)  # the consumer began and reset the error
    assert got == []  # the run it started was cancelled at once


async def test_a_stage_binds_to_the_last_pipeline_it_joined():
    stage = work_pool()(lambda x, s: KillSwitch("stop") if x == 1 else x)
    first = Pipeline(range(3)) >> stage
    second = Pipeline(range(3)) >> stage
    assert is_err(await second.run())
    assert second.result == Err("stop")
    assert first.result == first.metrics  # never run, never cancelled
