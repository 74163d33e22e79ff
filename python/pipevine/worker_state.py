"""WorkerState: what one worker keeps across the items it handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class WorkerState:
    """A worker's own values: a real dict, one new state per function slot and run."""

    values: dict = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def update(self, **kwargs: Any) -> None:
        self.values.update(kwargs)


class WorkerHandler(Protocol):
    def __call__(self, val: Any, state: WorkerState, /) -> Any: ...
