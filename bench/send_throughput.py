"""Sending throughput: the engine end to end against raw smtplib, on the same SMTP sink (issue 4).

    python bench/send_throughput.py [--messages N] [--workers W]

Starts a counting SMTP sink (tests/fakes/smtp.py) in its own process, seeds one mailing with N clients
(default 5,000) in the database DATABASE_URL selects (default: a throw-away SQLite file var/bench.sqlite3),
then measures in the same run:
  (a) raw smtplib over one reused connection, N messages of about 1 KB: the practical limit of one
      connection to this sink;
  (b) `manage.py send_mailing ID` in a child process: occurrence, deliveries, sends and every attempt
      logged; its rate is N over the time from the occurrence's creation to its last logged attempt, and its
      peak RSS is the child's maximum resident set size.
It prints both rates, their ratio and the sender's peak RSS; the last line is machine-readable. It prints
figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = ("Hello {full_name},\n\n" + "This is the autumn newsletter with news you asked for. " * 16)[:1000]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.smtp", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout.readline().strip() == "ready"
    return sink


def raw_smtplib(port: int, count: int) -> float:
    payload = (
        "From: bench@example.com\r\nTo: {to}\r\nSubject: Autumn news\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n\r\n' + BODY.replace("\n", "\r\n")
    )
    started = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
    for n in range(count):
        to = f"raw{n}@example.org"
        smtp.sendmail("bench@example.com", [to], payload.format(to=to, full_name="Reader").encode())
    smtp.quit()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="recipients in the mailing (default 5000)")
    parser.add_argument(
        "--workers", type=int, default=None, help="MAILER_SEND_WORKERS (default: the setting)"
    )
    args = parser.parse_args()
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")

    # Production mode: DEBUG would keep a log of every SQL query in memory.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(24).hex())
    os.environ.setdefault("ENV_FILE", str(ROOT / "var" / "no-such.env"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("DATABASE_URL"):
        bench_db = ROOT / "var" / "bench.sqlite3"
        bench_db.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    port = free_port()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), MAILER_RATE_LIMIT="0")
    if args.workers:
        os.environ["MAILER_SEND_WORKERS"] = str(args.workers)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max, Min
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings.models import Client, DeliveryAttempt, Mailing, Message, Occurrence

    call_command("migrate", verbosity=0)
    db = connection.vendor
    owner = User.objects.create_user(f"bench-{time.time_ns()}@example.com", "bench-password-1")
    try:
        started = time.perf_counter()
        message = Message.objects.create(owner=owner, subject="Autumn news for {first_name}", body=BODY)
        clients = Client.objects.bulk_create(
            [
                Client(owner=owner, email=f"reader{n}@example.org", full_name=f"Reader {n}")
                for n in range(args.messages)
            ],
            batch_size=2000,
        )
        now = timezone.now()
        mailing = Mailing.objects.create(
            owner=owner,
            message=message,
            start_at=now,
            end_at=now + timezone.timedelta(days=1),
            next_run_at=None,
        )
        through = Mailing.clients.through
        through.objects.bulk_create(
            [through(mailing_id=mailing.pk, client_id=c.pk) for c in clients], batch_size=2000
        )
        print(f"seeded {args.messages} clients on {db} in {time.perf_counter() - started:.1f} s")

        sink = start_sink(port)
        try:
            raw = raw_smtplib(port, args.messages)
            print(f"raw smtplib, one reused connection: {raw:,.0f} msgs/s")

            result = subprocess.run(
                [sys.executable, "manage.py", "send_mailing", str(mailing.pk)],
                cwd=ROOT,
                env=os.environ,
                capture_output=True,
                text=True,
                check=False,
            )
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if result.returncode != 0:
                sys.exit(f"send_mailing failed: {result.stderr.strip()[-2000:]}")
            print(f"send_mailing: {result.stdout.strip()}")
        finally:
            sink.terminate()
            sink_out = sink.communicate(timeout=30)[0].strip()
        occurrence = Occurrence.objects.get(mailing=mailing)
        span = DeliveryAttempt.objects.filter(delivery__occurrence=occurrence).aggregate(
            first=Min("attempted_at"), last=Max("attempted_at")
        )
        first, last = span["first"], span["last"]
        sent = occurrence.deliveries.filter(status="sent").count()
        engine = sent / max((last - occurrence.created_at).total_seconds(), 1e-6)
        peak_mib = peak_kib / 1024  # the only child reaped so far is the sender
        ratio = engine / raw
        workers = settings.MAILER_SEND_WORKERS
        print(f"sink: {sink_out}; engine sent {sent} of {args.messages}")
        queueing = (first - occurrence.created_at).total_seconds()
        sending = (last - first).total_seconds()
        print(f"engine timeline: {queueing:.1f} s creating the deliveries, then {sending:.1f} s sending")
        print(f"engine ({workers} workers, every attempt logged): {engine:,.0f} msgs/s")
        print(f"ratio engine/raw: {ratio:.2f}; sender peak RSS: {peak_mib:.0f} MiB")
        print(
            f"ratio={ratio:.2f} engine_msgs_per_s={engine:.0f} raw_msgs_per_s={raw:.0f} "
            f"peak_rss_mib={peak_mib:.0f} messages={args.messages} db={db}"
        )
    finally:
        owner.delete()


if __name__ == "__main__":
    main()
