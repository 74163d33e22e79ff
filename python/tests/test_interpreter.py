"""Safe with the interpreter: Ctrl-C, exit with runs under way, GIL-free waits."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PYTHONPATH = os.environ.get("PYTHONPATH", "")


def start(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
    )


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    pytest.fail(f"the child never printed {expected!r}; stderr: {proc.stderr.read()}")


RUN = """
    import asyncio, time
    from pipevine import Pipeline, work_pool

    @work_pool(num_workers=2)
    def slow(item, state):
        if item == 0:
            print("running", flush=True)
        time.sleep(0.01)
        return item

    asyncio.run((Pipeline(iter(range(10**9))) >> slow).run())
"""

ITER = """
    import time
    from pipevine import Pipeline, work_pool

    @work_pool()
    def slow(item, state):
        time.sleep(0.01)
        return item

    for item in (Pipeline(iter(range(10**9))) >> slow).iter():
        if item == 0:
            print("running", flush=True)
"""


@pytest.mark.parametrize("script", [RUN, ITER], ids=["run", "iter"])
def test_ctrl_c_in_a_running_pipeline_is_a_keyboard_interrupt(script):
    proc = start(script)
    wait_for_line(proc, "running")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 5
    assert "KeyboardInterrupt" in err, err
    assert proc.returncode != 0


# The iter() run is left suspended with its workers busy (its 64-item buffer takes 0.64 s to
# fill): at exit they are inside a handler, or about to call one. Before exit ended such runs,
# Python ended the worker that asked for the GIL while it finalized, and the process died (SIGBUS
# or SIGSEGV, every time).
@pytest.mark.parametrize("seconds", [0.001, 0.01])
def test_exit_with_a_run_under_way_ends_its_threads_and_exits_cleanly(seconds):
    proc = start(f"""
        import asyncio, threading, time
        from pipevine import Pipeline, work_pool

        stage = work_pool(num_workers=2)(lambda x, s: time.sleep({seconds}) or x)
        gen = (Pipeline(iter(range(10**9))) >> stage).iter()
        next(gen)
        async def background():
            task = asyncio.ensure_future((Pipeline(iter(range(10**9))) >> stage).run())
            await asyncio.sleep(0.1)
        asyncio.run(background())
        print("exiting", flush=True)
    """)
    out, err = proc.communicate(timeout=20)
    assert "exiting" in out
    assert proc.returncode == 0, err
    assert "Fatal Python error" not in err and "Traceback" not in err, err


def test_exit_while_handlers_run_nested_pipelines_does_not_hang():
    # Exit waits for the outer run's workers while they make runs of their own: before, exit
    # held its lock while it waited, the next nested run waited for that lock, and the process
    # hung (every time).
    proc = start("""
        import time
        from pipevine import Pipeline, work_pool

        inner = work_pool()(lambda x, s: x + 1)

        @work_pool(num_workers=2)
        def outer(x, s):
            return list((Pipeline(iter([x])) >> inner).iter())[0]

        gen = (Pipeline(iter(range(10**9))) >> outer).iter()
        next(gen)
        time.sleep(0.2)
        print("exiting", flush=True)
    """)
    out, err = proc.communicate(timeout=20)
    assert "exiting" in out
    assert proc.returncode == 0, err


def test_a_run_started_once_exit_has_ended_the_runs_is_refused_with_a_clear_error():
    # atexit calls handlers last registered first: this one runs after pipevine's.
    proc = start("""
        import atexit, time

        def late():
            from pipevine import Pipeline, work_pool
            stage = work_pool()(lambda x, s: time.sleep(0.01) or x)
            try:
                for _ in (Pipeline(iter(range(10**9))) >> stage).iter():
                    pass
            except RuntimeError as exc:
                print("refused:", exc, flush=True)

        atexit.register(late)
        import pipevine
    """)
    out, err = proc.communicate(timeout=20)
    assert "refused: the Python interpreter is exiting: no run starts" in out, (out, err)
    assert proc.returncode == 0, err


def test_a_long_handler_does_not_hold_the_gil_while_the_engine_waits():
    # A thread of the caller's keeps running Python while the pipeline is under way.
    proc = start("""
        import asyncio, threading, time
        from pipevine import Pipeline, work_pool

        ticks = 0
        stop = False
        def ticker():
            global ticks
            while not stop:
                ticks += 1
                time.sleep(0.001)
        threading.Thread(target=ticker, daemon=True).start()

        @work_pool(buffer=1)
        def sleepy(item, state):
            time.sleep(0.05)  # releases the GIL
            return item

        asyncio.run((Pipeline(range(10)) >> sleepy).run())
        stop = True
        print(ticks, flush=True)
    """)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    # ~500 ms of run: about 450 ticks on a quiet machine, none if the engine held the GIL while it
    # waited. A loaded machine (a sanitizer build beside the tests) wakes the ticker late, so the
    # bound is far below the quiet figure (it was 100, and failed once under such load).
    assert int(out.strip()) > 20
