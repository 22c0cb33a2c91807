"""Bounces and complaints read back (R-DLV-3, R-DLV-4): `parse` understands one raw mail without touching the
database, `record` stores it and acts on it. `manage.py runbounces` feeds them from an MTA's pipe, an inbound
SMTP endpoint or an IMAP mailbox (readers.py)."""

from .parse import COMPLAINT, HARD, SOFT, UNCLASSIFIED, Parsed, parse
from .process import record

__all__ = ["COMPLAINT", "HARD", "SOFT", "UNCLASSIFIED", "Parsed", "parse", "record"]
