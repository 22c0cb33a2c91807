"""SQLite's LIKE folds letter case for ASCII only, so on SQLite `icontains` found "Козлов" but not "козлов",
while PostgreSQL (UPPER() on both sides) finds both. Every search in the pages and the API uses `icontains`;
replacing SQLite's like() function (SQLite's documented way to change the LIKE operator) makes them agree
for every alphabet. PostgreSQL is left as it is."""

import functools
import re

from django.db.backends.signals import connection_created


@functools.lru_cache(maxsize=512)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern:
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def unicode_like(pattern, value, escape=None):
    """like(X, Y[, Z]) is `Y LIKE X [ESCAPE Z]`, case-insensitive in every alphabet."""
    if pattern is None or value is None:
        return None
    return _like_regex(str(pattern), escape).fullmatch(str(value)) is not None


def _install(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("like", 2, unicode_like, deterministic=True)
        connection.connection.create_function("like", 3, unicode_like, deterministic=True)


def connect() -> None:
    connection_created.connect(_install, dispatch_uid="mailer_sqlite_unicode_like")
