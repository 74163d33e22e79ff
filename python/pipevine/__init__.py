"""Pipevine's API on Tendril's engine: typed-free pipelines of worker pools with bounded
buffers, retries, fork/merge, per-worker state and errors as values."""

from .async_util import SENTINEL
from .pipeline import Pipeline
from .stage import PathChoice, Stage, as_stage, mix_pool, work_pool
from .util import (
    Err,
    Result,
    err_as_value,
    get_err,
    is_err,
    is_ok,
    unwrap,
    unwrap_or,
    with_retry,
)
from .worker_state import WorkerHandler, WorkerState

from . import _engine

_engine._set_types()

__version__ = "0.1.0"

__all__ = [
    "Pipeline",
    "Stage",
    "work_pool",
    "mix_pool",
    "as_stage",
    "PathChoice",
    "Result",
    "Err",
    "err_as_value",
    "get_err",
    "is_err",
    "is_ok",
    "unwrap",
    "unwrap_or",
    "with_retry",
    "WorkerHandler",
    "WorkerState",
    "SENTINEL",
]
