"""multi_proc=True: handlers in worker processes on Tendril's process workers."""

import asyncio
import os
import signal

import pytest

from pipevine import Err, Pipeline, is_err, mix_pool, work_pool
from pipevine.stage import KillSwitch


def square_with_pid(x, state):
    state.update(seen=state.get("seen", 0) + 1)
    return (x * x, os.getpid(), state.get("seen"))


def crash_on_three(x, state):
    if x == 3:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x


def fail_on_odd(x, state):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


def err_on_two(x, state):
    return Err("two") if x == 2 else x


def stop_on_five(x, state):
    return KillSwitch("five") if x == 5 else x


async def async_double(x, state):
    await asyncio.sleep(0)
    return x * 2


def tag_a(x, state):
    return ("a", os.getpid())


def tag_b(x, state):
    return ("b", os.getpid())


async def test_each_worker_is_a_process_keeping_its_state():
    stage = work_pool(num_workers=2, buffer=4, multi_proc=True)(square_with_pid)
    out = list((Pipeline(range(40)) >> stage).iter())
    assert sorted(r[0] for r in out) == [i * i for i in range(40)]
    pids = {r[1] for r in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert max(r[2] for r in out) > 1  # the WorkerState lived on across items


async def test_a_crash_costs_its_item_and_every_other_item_is_processed(caplog):
    caplog.set_level("WARNING", logger="pipevine.worker")
    stage = work_pool(retries=2, multi_proc=True)(crash_on_three)
    pipe = Pipeline(range(8), log=True) >> stage
    assert sorted(pipe.iter()) == [0, 1, 2, 4, 5, 6, 7]
    assert pipe.metrics.failed == 1
    warned = [str(r.msg) for r in caplog.records if r.name == "pipevine.worker"]
    assert warned == ["worker crashed: SIGSEGV"]


async def test_failures_err_and_kill_switch_cross_back():
    failing = work_pool(retries=2, multi_proc=True)(fail_on_odd)
    result = await (Pipeline(range(6)) >> failing).run()
    assert result.processed == 3 and result.failed == 3
    erring = work_pool(multi_proc=True)(err_on_two)
    result = await (Pipeline(range(4)) >> erring).run()
    assert result.processed == 3 and result.failed == 1
    stopping = work_pool(multi_proc=True)(stop_on_five)
    result = await (Pipeline(range(100)) >> stopping).run()
    assert is_err(result) and str(result) == "five"


async def test_async_handlers_run_to_completion_in_the_worker():
    stage = work_pool(num_workers=2, multi_proc=True)(async_double)
    assert sorted((Pipeline(range(10)) >> stage).iter()) == [i * 2 for i in range(10)]


async def test_mix_pool_runs_each_handler_in_its_own_process():
    stage = mix_pool(multi_proc=True, fork_merge=lambda rs: rs)(lambda: [tag_a, tag_b])
    out = list((Pipeline(range(5)) >> stage).iter())
    assert all([r[0][0], r[1][0]] == ["a", "b"] for r in out)
    assert all(r[0][1] != r[1][1] != os.getpid() for r in out)


async def test_an_unpicklable_handler_runs_on_threads_with_a_warning():
    stage = work_pool(multi_proc=True)(lambda x, s: os.getpid())
    with pytest.warns(RuntimeWarning, match="cannot be pickled"):
        out = list((Pipeline(range(3)) >> stage).iter())
    assert out == [os.getpid()] * 3


async def test_an_unpicklable_item_fails_that_item_only():
    stage = work_pool(multi_proc=True)(square_with_pid)
    items = [1, lambda: None, 3]
    pipe = Pipeline(items) >> stage
    assert [r[0] for r in pipe.iter()] == [1, 9]
    assert pipe.metrics.failed == 1


def _children():
    return {p for p in os.listdir("/proc") if p.isdigit() and _parent_of(p) == os.getpid()}


def test_no_worker_process_outlives_its_run():
    # Children from before (multiprocessing's resource tracker, when other tests ran first in
    # this process) are not this run's.
    before = _children()
    stage = work_pool(num_workers=2, multi_proc=True)(square_with_pid)
    gen = (Pipeline(iter(range(10**9))) >> stage).iter()
    next(gen)
    gen.close()
    assert _children() - before == set()


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def inc(x, state):
    return x + 1


def fail_on_seven(x, state):
    if x == 7:
        raise ValueError("seven")
    return x * x


async def async_inc(x, state):
    await asyncio.sleep(0)
    return x + 1


async def async_fail_on_seven(x, state):
    await asyncio.sleep(0)
    return fail_on_seven(x, state)


@pytest.mark.parametrize("mode", ["threads", "coroutines", "processes"])
async def test_the_same_pipeline_through_threads_coroutines_and_processes(mode):
    first, second = (async_inc, async_fail_on_seven) if mode == "coroutines" else (
        inc, fail_on_seven)
    processes = mode == "processes"
    a = work_pool(num_workers=2, buffer=4, retries=2, multi_proc=processes)(first)
    b = work_pool(num_workers=2, buffer=4, retries=2, multi_proc=processes)(second)
    pipe = Pipeline(range(20)) >> a >> b
    assert sorted(pipe.iter()) == sorted((x + 1) ** 2 for x in range(20) if x + 1 != 7)
    assert (pipe.metrics.processed, pipe.metrics.failed) == (19, 1)
    assert [s.processed for s in pipe.metrics.stages] == [20, 19]
