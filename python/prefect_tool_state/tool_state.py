"""ToolState: the progress record of a tool run, as the original package defines it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class ToolState:
    type: str = "ToolState"
    flow_run_id: str = field(default_factory=lambda: os.environ.get("PREFECT__FLOW_RUN_ID", ""))
    state: str = "INFO"
    tool_name: str = ""
    step_name: str = ""
    message: str = ""
    total_files: int = 0
    processed_files: int = 0
    current_file_name: str = ""
    steps: list = field(default_factory=list)
    timestamp: str = field(default_factory=_now)

    def build(self, **changes: Any) -> "ToolState":
        """A copy with `changes` and, always, a new timestamp."""
        changes["timestamp"] = _now()
        return replace(self, **changes)
