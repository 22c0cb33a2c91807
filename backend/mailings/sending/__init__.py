"""The sending engine; see engine.py for how a pass works."""

from .engine import send_due, send_occurrence
from .summary import PassSummary
from .worker import StopRequest

__all__ = ["PassSummary", "StopRequest", "send_due", "send_occurrence"]
