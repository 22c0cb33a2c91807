"""The open pixel and the click redirect under gunicorn (R-ENG-2), against a floor.

    python bench/tracking.py [--seconds S] [--clients C] [--workers N] [--deliveries D] [--redis URL]

Serves this checkout with gunicorn as in production (`-c python:backend.gunicorn_conf`, --workers sync
workers, DEBUG off) on a throw-away database (PostgreSQL when DATABASE_URL names a server, else SQLite) with
REDIS_URL=--redis (default BENCH_REDIS_URL or redis://127.0.0.1:6379/9; "" for none: events are then stored
at once, one request at a time). One mailing with D sent deliveries and three tracked links is made first;
then, for S seconds per endpoint, C client threads in two client processes (each request a new connection,
as gunicorn's sync workers close them) ask:

  - floor: /healthz, which the first middleware answers (the cost of gunicorn, WSGI and the client);
  - open:  /t/o/<token>.gif of random deliveries (signature check, one RPUSH);
  - click: /t/c/<token>/ of random deliveries and links (signature check, the link's URL from the cache
           after the first read of each, one RPUSH; answered 302, not followed).

Prints requests per second, p50 and p99 per endpoint, then drains the buffer as the scheduler would and
checks that every counted open and click was stored (none lost). Asserts nothing about time. Last line,
machine-readable: `floor_rps=… open_rps=… click_rps=… open_p99_ms=… click_p99_ms=… lost=…`.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402
from bench.support.throwaway_db import fresh_database  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def client_process(port: int, paths: list[str], seconds: float, threads: int, results) -> None:
    """Asks random `paths` from `threads` threads for `seconds`; puts (latencies in ms, errors, statuses)."""
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        mine, bad, seen = [], 0, {}
        while time.monotonic() < deadline:
            path = random.choice(paths)
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux) bench"})
                response = connection.getresponse()
                response.read()
                connection.close()
            except OSError:
                bad += 1
                continue
            mine.append((time.perf_counter() - start) * 1000)
            seen[response.status] = seen.get(response.status, 0) + 1
        with lock:
            latencies.extend(mine)
            errors += bad
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((latencies, errors, statuses))


def measure(port: int, paths: list[str], seconds: float, clients: int) -> dict:
    results = multiprocessing.Queue()
    per_process = [clients // 2 + clients % 2, clients // 2]
    processes = [
        multiprocessing.Process(target=client_process, args=(port, paths, seconds, threads, results))
        for threads in per_process
        if threads
    ]
    for process in processes:
        process.start()
    latencies, errors, statuses = [], 0, {}
    for _ in processes:
        got, bad, seen = results.get()
        latencies += got
        errors += bad
        for status, count in seen.items():
            statuses[status] = statuses.get(status, 0) + count
    for process in processes:
        process.join()
    return {
        "rps": len(latencies) / seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "requests": len(latencies),
        "errors": errors,
        "statuses": statuses,
    }


def prepare(deliveries: int) -> tuple[list[str], list[str]]:
    """A mailing with `deliveries` sent deliveries and three links; the open and click paths to ask."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings.models import Client, Delivery, Mailing, Message, Occurrence, TrackedLink
    from backend.mailings.tracking.rewrite import url_hash
    from backend.mailings.tracking.tokens import signer

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("owner@bench.example", "bench-Harbor-93-kettle", email_verified=True)
    message = Message.objects.create(owner=owner, subject="Bench", body="Hello", html_body="<p>Hello</p>")
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=owner, message=message, start_at=now, end_at=now + timezone.timedelta(days=1)
    )
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"c{n}@bench.example", full_name=f"C {n}") for n in range(deliveries)
    )
    rows = Delivery.objects.bulk_create(
        Delivery(
            mailing=mailing,
            occurrence=occurrence,
            client=client,
            email=client.email,
            status=Delivery.Status.SENT,
            sent_at=now - timezone.timedelta(hours=1),
        )
        for client in clients
    )
    urls = [f"https://example.org/page/{n}?utm=bench" for n in range(3)]
    links = TrackedLink.objects.bulk_create(
        TrackedLink(mailing=mailing, url=url, url_hash=url_hash(url)) for url in urls
    )
    if not all(row.pk for row in rows) or not all(link.pk for link in links):  # SQLite before 3.35
        rows = list(Delivery.objects.filter(occurrence=occurrence))
        links = list(TrackedLink.objects.filter(mailing=mailing))
    sign = signer()
    opens = [f"/t/o/{sign.open_token(row.pk)}.gif" for row in rows]
    clicks = [f"/t/c/{sign.click_token(row.pk, link.pk)}/" for row in rows for link in links]
    from django.db import connections

    connections.close_all()
    return opens, clicks


def stored_after_drain() -> int:
    from backend.mailings.models import EngagementEvent
    from backend.mailings.tracking import buffer

    while buffer.drain(batches=1000):
        pass
    return EngagementEvent.objects.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"), help='"" for none'
    )
    args = parser.parse_args()

    production_mode()
    vendor, drop = fresh_database("tracking")
    port = free_port()
    os.environ.update(
        {
            "REDIS_URL": args.redis,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "DJANGO_SETTINGS_MODULE": "backend.settings",
        }
    )
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="mailer-tracking-"))
    server = None
    try:
        opens, clicks = prepare(args.deliveries)
        log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:backend.gunicorn_conf",
                "backend.wsgi",
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(150):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            sys.exit(f"gunicorn did not answer /healthz; see {workdir / 'gunicorn.log'}")

        figures, answered = {}, 0
        for name, paths in (("floor", ["/healthz"]), ("open", opens), ("click", clicks)):
            warm_up = measure(port, paths, 2, args.clients)  # workers import, caches fill
            figures[name] = measure(port, paths, args.seconds, args.clients)
            if name != "floor":
                answered += sum(
                    count
                    for run in (warm_up, figures[name])
                    for status, count in run["statuses"].items()
                    if status in (200, 302)
                )
        print(
            f"\n{vendor}, Redis {'at ' + args.redis if args.redis else 'none'}, gunicorn {args.workers} sync "
            f"workers, {args.clients} client threads in 2 processes, {args.seconds:g} s per endpoint, "
            f"{args.deliveries} deliveries x 3 links"
        )
        print(f"{'endpoint':8s} {'requests':>9s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} errors statuses")
        for name, row in figures.items():
            print(
                f"{name:8s} {row['requests']:9d} {row['rps']:8.0f} {row['p50']:7.1f} {row['p99']:7.1f} "
                f"{row['errors']:6d} {row['statuses']}"
            )
        # Every open and click answered, in the warm-ups too, must be stored.
        counted = stored_after_drain()
        lost = answered - counted
        print(f"opens and clicks answered: {answered}; stored after the drain: {counted}")
        print(
            f"floor_rps={figures['floor']['rps']:.0f} open_rps={figures['open']['rps']:.0f} "
            f"click_rps={figures['click']['rps']:.0f} open_p99_ms={figures['open']['p99']:.1f} "
            f"click_p99_ms={figures['click']['p99']:.1f} lost={lost}"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.redis:
            import redis

            redis.Redis.from_url(args.redis).flushdb()
        drop()


if __name__ == "__main__":
    main()
