"""A throw-away database for a benchmark: a fresh SQLite file under var/, or, when DATABASE_URL names a
PostgreSQL server, a new database on it that is dropped afterwards. Lives in a folder of its own so that
`make bench` (every bench/*.py) does not run it."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


def fresh_database(label: str) -> tuple[str, Callable[[], None]]:
    """Point DATABASE_URL at a new, empty database named after `label`; returns its vendor and a function
    that removes it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        db_file = ROOT / "var" / f"bench_{label}.sqlite3"
        db_file.parent.mkdir(exist_ok=True)
        db_file.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db_file}"

        def remove() -> None:
            from django.db import connections

            connections.close_all()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_file}{suffix}").unlink(missing_ok=True)

        return "sqlite", remove
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must be a postgres:// URL (or unset for SQLite).")
    import psycopg2

    parts = urlsplit(url)
    name = f"mailer_bench_{label}_{os.getpid()}"
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()

    return "postgresql", drop
