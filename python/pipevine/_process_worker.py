"""A multi_proc stage's worker process: a fresh interpreter that serves pickled calls.

The engine starts it (never a fork of the multi-threaded parent) as
    python3 -c "<command()>"
with the parent's sys.path, so that handlers pickled by reference (module + name) import as
they did there. A handler from the parent's __main__ script is found the way multiprocessing's
"spawn" finds it: the script is run again as __mp_main__ (its `if __name__ == "__main__":` part
does not run). One WorkerState per process, kept across its items.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import runpy
import sys
from typing import Any

from .util import Err, _awaitable
from .worker_state import WorkerState

_state = WorkerState({})


def serve_item(payload: bytes) -> tuple:
    """One request: (ok, pickled result or the attempt's error message, kind)."""
    from .stage import KillSwitch

    try:
        function, item = pickle.loads(payload)
        out = function(item, _state)
        if inspect.isawaitable(out):
            out = asyncio.run(_awaitable(out))
    except Exception as exc:  # noqa: BLE001 - a failed attempt
        return (False, repr(exc), "handler")
    if isinstance(out, Err):
        return (False, str(out), "handler")
    if isinstance(out, KillSwitch):
        return (False, str(out.reason), "kill_switch")
    try:
        return (True, pickle.dumps(out), "")
    except Exception as exc:  # noqa: BLE001
        return (False, f"cannot pickle the result for the parent: {exc!r}", "handler")


def command() -> list:
    """How the engine starts a worker process from this interpreter, as it is now."""
    main = sys.modules.get("__main__")
    main_path = getattr(main, "__file__", None)
    script = main_path if main_path and main_path.endswith(".py") else None
    code = (
        f"import sys; sys.path[:0] = {list(sys.path)!r}; "
        f"from pipevine._process_worker import main; main({script!r})"
    )
    return [sys.executable, "-c", code]


def main(script: Any = None) -> None:
    import _tendril

    if script is not None:
        module = type(sys)("__mp_main__")
        sys.modules["__mp_main__"] = module
        module.__dict__.update(runpy.run_path(script, run_name="__mp_main__"))
        sys.modules["__main__"] = module
    _tendril.serve_process_worker(serve_item)
    raise SystemExit("pipevine._process_worker: not started as a worker process")
