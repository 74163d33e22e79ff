"""prefect-tool-state's API on Tendril's lock-free publisher."""

from .tool_state import ToolState
from .tool_state_manager import ToolStateManager
from .tool_state_publisher import ToolStatePublisher, get_tool_state_publisher

__version__ = "0.1.0"

__all__ = ["ToolState", "ToolStatePublisher", "ToolStateManager", "get_tool_state_publisher"]
