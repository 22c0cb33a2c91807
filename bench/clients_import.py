"""Client import: 10,000 CSV rows through `services.clients_import_csv` ("in a few seconds").

    python bench/clients_import.py [--rows N]

Generates a CSV file of N rows (default 10,000; `;`-separated, a header, Cyrillic names, a BOM, as Excel
writes it) and imports it for a fresh owner in the database DATABASE_URL selects (default: a throw-away
SQLite file var/bench_import.sqlite3): first into an empty list (every row added), then the same file
with changed names again (every row updated). Times the whole service call, parsing included, and
counts its SQL queries. The last line is machine-readable. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402


def csv_file(rows: int, *, name: str) -> bytes:
    lines = ["email;ФИО;комментарий"]
    lines += [f"reader{n}@example.org;{name} {n};ярмарка {n % 97}" for n in range(rows)]
    return codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the file (default 10000)")
    args = parser.parse_args()
    if not 1 <= args.rows <= 50_000:
        parser.error("--rows must be between 1 and 50000 (the import's limit)")

    production_mode()
    if not os.environ.get("DATABASE_URL"):
        bench_db = ROOT / "var" / "bench_import.sqlite3"
        bench_db.parent.mkdir(exist_ok=True)
        bench_db.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.accounts.models import User
    from backend.mailings import services

    call_command("migrate", verbosity=0)
    db = connection.vendor
    owner = User.objects.create_user(f"bench-{time.time_ns()}@example.com", "bench-password-1")
    owner.email_verified = True
    owner.save()
    try:
        timings = {}
        for phase, name in (("added", "Читатель"), ("updated", "Reader")):
            data = csv_file(args.rows, name=name)
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                report = services.clients_import_csv(actor=owner, data=data)
                seconds = time.perf_counter() - started
            done = getattr(report, phase)
            if done != args.rows:
                sys.exit(f"expected {args.rows} rows {phase}, got {done}: {report.rows[:3]}")
            timings[phase] = seconds
            print(
                f"{phase}: {args.rows} rows ({len(data) / 1024:.0f} KiB) in {seconds:.2f} s, "
                f"{args.rows / seconds:,.0f} rows/s, {len(queries)} SQL queries, on {db}"
            )
        seconds = timings["added"]
        print(
            f"rows={args.rows} seconds={seconds:.2f} rows_per_s={args.rows / seconds:.0f} "
            f"update_seconds={timings['updated']:.2f} db={db}"
        )
    finally:
        owner.delete()


if __name__ == "__main__":
    main()
