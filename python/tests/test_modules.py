"""pipevine's module layout, its queue helpers, and the logging it does (and does not do)."""

import asyncio
import dataclasses
import pickle

import pipevine
from pipevine import SENTINEL, Err, Pipeline, work_pool
from pipevine.async_util import (
    Marker,
    make_broadcast_inbounds,
    make_shared_inbound_for_pool,
    multiplex_and_merge_async_queues,
    multiplex_async_queues,
)
from pipevine.pipeline import PipelineMetrics, logger
from pipevine.stage import KillSwitch, StageMetrics
from pipevine.worker import worker, worker_no_buf


def test_the_original_names_and_version():
    assert pipevine.__version__ == "0.1.0"
    assert set(pipevine.__all__) == {
        "Pipeline", "Stage", "work_pool", "mix_pool", "as_stage", "PathChoice", "Result",
        "Err", "err_as_value", "get_err", "is_err", "is_ok", "unwrap", "unwrap_or",
        "with_retry", "WorkerHandler", "WorkerState", "SENTINEL"}
    assert logger.name == "pipevine.pipeline"
    for cls in (PipelineMetrics, StageMetrics, Err, KillSwitch, pipevine.WorkerState):
        assert dataclasses.is_dataclass(cls)
    assert dataclasses.asdict(PipelineMetrics()) == {
        "start": 0, "stop": 0, "duration": 0, "processed": 0, "failed": 0, "stages": []}


def test_sentinel_pickles_to_itself():
    assert SENTINEL is Marker.STOP
    assert pickle.loads(pickle.dumps(SENTINEL)) is SENTINEL


async def feed(items, size=0):
    q = asyncio.Queue(size)
    for item in items:
        q.put_nowait(item)
    q.put_nowait(SENTINEL)
    return q


async def drain(q):
    out = []
    while (item := await asyncio.wait_for(q.get(), 5)) is not SENTINEL:
        out.append(item)
    return out


async def test_worker_helpers_retry_drop_and_end_with_the_sentinel():
    errors = []

    def half(x, state):
        if x == 3:
            raise ValueError("three")
        return x / 2

    out = worker(half, 1, 2, await feed([1, 2, 3, 4]), on_err=errors.append)
    assert await drain(out) == [0.5, 1.0, 2.0]
    assert errors == [Err("ValueError('three')")]
    out = worker_no_buf(lambda x, s: x + 1, 1, await feed([1, 2]))
    assert await drain(out) == [2, 3]


async def test_queue_helpers():
    merged = await multiplex_async_queues([await feed([1, 2]), await feed([3])])
    assert sorted(await drain(merged)) == [1, 2, 3]
    lockstep = await multiplex_and_merge_async_queues(
        [await feed([1, 2]), await feed([10, 20])], sum)
    assert await drain(lockstep) == [11, 22]
    shared = await make_shared_inbound_for_pool(await feed([1, 2]), n_workers=3, maxsize=10)
    got = [await shared.get() for _ in range(5)]
    assert got == [1, 2, SENTINEL, SENTINEL, SENTINEL]
    a, b = await make_broadcast_inbounds(await feed([7, 8]), sizes=[1, 0])
    assert await asyncio.gather(drain(a), drain(b)) == [[7, 8], [7, 8]]


async def test_log_true_logs_the_source_raise_the_cancel_reason_and_no_generator(caplog):
    caplog.set_level("INFO", logger="pipevine.pipeline")

    def broken():
        yield 1
        raise ValueError("source broke")

    await Pipeline(broken(), log=True).stage(work_pool()(lambda x, s: x)).run()
    await Pipeline(None, log=True).run()
    pipe = Pipeline([1], log=True)
    await pipe.cancel("stop it")
    quiet = Pipeline([1, 2]) >> work_pool()(lambda x, s: x)
    await quiet.run()  # a successful run logs nothing there
    messages = [str(r.msg) for r in caplog.records if r.name == "pipevine.pipeline"]
    assert messages == ["source broke", "no generator", "stop it"]


async def test_a_kill_switch_outside_a_pipeline_still_ends_the_stream():
    stage = work_pool()(lambda x, s: KillSwitch("halt") if x == 2 else x)
    out = stage.run(await feed(range(100)))
    got = await drain(out)  # ends: SENTINEL comes (outputs still queued at the kill may not)
    assert 2 not in got and set(got) <= {0, 1}
    await stage.close()


def test_attributes_are_writable_and_stages_are_the_stage_objects():
    stage = work_pool()(lambda x, s: x * 2)
    pipe = Pipeline([1]) >> stage
    assert pipe.stages == [stage]
    pipe.generator = [5, 6]
    assert list(pipe.iter()) == [10, 12]


def triple(x, state):
    if x == 2:
        raise ValueError("two")
    return x * 3


async def test_mp_worker_runs_in_a_daemon_process_between_queue_bridges():
    import multiprocessing

    from pipevine.async_util import async_to_mp_queue, mp_to_async_queue
    from pipevine.worker import default_mp_ctx_method, mp_worker

    assert default_mp_ctx_method(triple) == "spawn"
    assert default_mp_ctx_method(lambda x, s: x) == "fork"
    errors = multiprocessing.get_context("spawn").Value("i", 0)
    mpq = async_to_mp_queue(await feed([1, 2, 3]))
    out, process = mp_worker(triple, 1, 2, mpq, err_counter=errors)
    assert process.daemon and process.is_alive()
    assert await drain(mp_to_async_queue(out)) == [3, 9]
    process.join(timeout=10)
    assert process.exitcode == 0 and errors.value == 1
