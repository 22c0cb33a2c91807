"""The sending engine; see engine.py for how a pass works."""

from .engine import PassSummary, send_due, send_occurrence
from .occurrences import materialise
from .worker import StopRequest

__all__ = ["PassSummary", "StopRequest", "materialise", "send_due", "send_occurrence"]
