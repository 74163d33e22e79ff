"""ToolStateManager: publishes a tool run's lifecycle, each state built from one base."""

from __future__ import annotations

from typing import Any, Optional

from .tool_state import ToolState
from .tool_state_publisher import get_tool_state_publisher


class ToolStateManager:
    def __init__(self, tool_name: str, steps: Optional[list] = None) -> None:
        self.publisher = get_tool_state_publisher()
        self.tool_state = ToolState(tool_name=tool_name, steps=list(steps or []))

    def _publish(self, **changes: Any) -> None:
        # The base is never updated: each state is the base plus these changes.
        self.publisher.publish_data(self.tool_state.build(**changes))

    def starting_tool(self) -> None:
        self._publish(state="RUNNING")

    def completed_tool(self) -> None:
        self._publish(state="COMPLETED")

    def failed_tool(self, error_message: str) -> None:
        self._publish(state="FAILED", message=error_message)

    def publish_step_details(self, **changes: Any) -> None:
        self._publish(**changes)

    def finish(self) -> None:
        """Stops the global publisher; later states are only logged."""
        self.publisher.shutdown()
