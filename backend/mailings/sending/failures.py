"""Telling "the database went away" from a bug.

PostgreSQL restarted in the middle of a pass used to log a full traceback from every worker and from the
next step of the pass, five or more for one event that needs no debugging. Such a failure is now one clause
of the pass's summary line; the broken connections are closed after the pass (the tick job's
`close_old_connections`), and the next pass connects afresh and takes up the leases the broken one held.
Anything else still gets its traceback.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# SQLSTATE classes of a lost server: 08 connection exception, 57 operator intervention (a shutdown or
# restart terminates the connection: 57P01), 53 insufficient resources (too many connections).
_GONE_CLASSES = ("08", "57", "53")


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached, rather than a statement that failed."""
    if isinstance(error, InterfaceError):  # the connection was already closed
        return True
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.__cause__, "pgcode", None)
    # Without a code: the client library lost the server (or, on SQLite, could not lock the file in time).
    return code is None or code[:2] in _GONE_CLASSES


def describe(error: BaseException) -> str:
    """The driver's message on one line (psycopg2 spreads it over several, indented with tabs)."""
    return " ".join(str(error).split()) or type(error).__name__
