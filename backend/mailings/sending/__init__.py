"""The sending engine; see engine.py for how a pass works."""

from .engine import PassSummary, send_due, send_mailing_now

__all__ = ["PassSummary", "send_due", "send_mailing_now"]
