"""Background client import: the rate of a 1,000,000-row file through the scheduler's job (R-AUD-3).

    python bench/import_rate.py [--rows N] [--chunk N]

Writes a CSV file of N rows (default 1,000,000 on PostgreSQL, 100,000 on SQLite; `;`-separated, a header,
a tags column with two of five tags per row) into a temporary upload as Django's upload handler would,
hands it to `services.clients_import_upload` (which moves it into MAILER_IMPORT_DIR and queues it), then
times `services.client_imports_run` — the scheduler's job — until the import is done: the whole-file check,
then chunks of `imports.IMPORT_CHUNK` rows, each one transaction. Prints rows/s and the process's peak
memory; the last line is machine-readable (`import_rows=… import_s=… import_rows_per_s=… import_rss_mib=…`).
Runs against DATABASE_URL (default: a throw-away SQLite file var/bench_import_rate.sqlite3); the owner it
creates is deleted at the end. Asserts nothing about time.

`bench/scale.py` can call `import_rate(rows)` (Django set up, migrations applied) for its figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402

TAGS = ("news", "vip", "events", "partners", "press")


def write_upload(rows: int):
    """A TemporaryUploadedFile of `rows` rows, written line by line (never in memory as a whole)."""
    from django.core.files.uploadedfile import TemporaryUploadedFile

    upload = TemporaryUploadedFile("bench.csv", "text/csv", 0, "utf-8")
    upload.file.write(b"email;full name;comment;tags\n")
    for n in range(rows):
        tags = f"{TAGS[n % 5]}, {TAGS[(n + 2) % 5]}"
        upload.file.write(f"reader{n}@example.org;Reader {n};fair {n % 97};{tags}\n".encode())
    upload.file.flush()
    upload.size = upload.file.tell()
    upload.file.seek(0)
    return upload


def import_rate(rows: int, *, chunk: int | None = None) -> dict:
    """Import a `rows`-row file for a fresh owner through the background job; returns the figures."""
    from django.conf import settings

    from backend.accounts.models import User
    from backend.mailings import services
    from backend.mailings.models import Client, ClientImport, ClientTag
    from backend.mailings.services import imports

    if chunk:
        imports.IMPORT_CHUNK = chunk
    # A small file would be imported at once inside the request; the bench times the background job.
    imports.MAX_IMPORT_BYTES = 0
    owner = User.objects.create_user(f"bench-{time.time_ns()}@example.com", "bench-password-1")
    try:
        upload = write_upload(rows)
        size = upload.size
        job = services.clients_import_upload(actor=owner, upload=upload)
        upload.close()
        started = time.perf_counter()
        chunks = services.client_imports_run()
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        if job.status != ClientImport.Status.DONE or job.added != rows:
            raise SystemExit(f"import ended {job.status} with {job.added} added: {job.error}")
        # From the job's own timestamps too: the claim to the last commit.
        print(f"import ran {(job.finished_at - job.started_at).total_seconds():.1f} s by its timestamps")
        count = Client.objects.filter(owner=owner).count()
        assert count == rows, count
        report = services.imports.report_path(job)
        report.unlink(missing_ok=True)
        return {
            "rows": rows,
            "bytes": size,
            "chunks": chunks,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "import_dir": str(settings.MAILER_IMPORT_DIR),
        }
    finally:
        # The collector behind owner.delete() would load a million clients into memory: the rows go first,
        # in plain DELETEs.
        ClientTag.objects.filter(tag__owner=owner).delete()
        Client.objects.filter(owner=owner)._raw_delete(Client.objects.db)
        owner.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="rows (default 1000000 on PostgreSQL)")
    parser.add_argument("--chunk", type=int, default=None, help="rows per transaction (default 5000)")
    args = parser.parse_args()

    production_mode()
    if not os.environ.get("DATABASE_URL"):
        bench_db = ROOT / "var" / "bench_import_rate.sqlite3"
        bench_db.parent.mkdir(exist_ok=True)
        bench_db.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
    os.environ.setdefault("MAILER_IMPORT_DIR", tempfile.mkdtemp(prefix="mailer-bench-import-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    db = connection.vendor
    rows = args.rows or (1_000_000 if db == "postgresql" else 100_000)
    figures = import_rate(rows, chunk=args.chunk)
    print(
        f"{rows:,} rows ({figures['bytes'] / 1024 / 1024:.0f} MiB, tags column) "
        f"in {figures['chunks']} chunks: "
        f"{figures['seconds']:.1f} s, {figures['rows_per_s']:,.0f} rows/s, peak RSS "
        f"{figures['rss_mib']:.0f} MiB, on {db}"
    )
    print(
        f"import_rows={rows} import_s={figures['seconds']:.1f} import_rows_per_s={figures['rows_per_s']:.0f} "
        f"import_rss_mib={figures['rss_mib']:.0f} db={db}"
    )


if __name__ == "__main__":
    main()
