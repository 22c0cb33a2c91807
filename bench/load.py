"""Load test: the web processes and a scheduler under load at once, on PostgreSQL + Redis.

    python bench/load.py [--users 50] [--seconds 60] [--workers 4] [--recipients 30000]
                         [--max-requests 500000] [--postgres URL] [--redis URL]

1. Creates a throw-away PostgreSQL database `mailer_load_<pid>` on the --postgres server (default
   postgres://postgres@127.0.0.1:5432; dropped at the end) and empties the --redis database (default
   redis://127.0.0.1:6379/14) before and after; migrates, collects the static files (DEBUG=0 serves them
   through whitenoise's manifest, as in production), and seeds: `seed_demo`, then 950 more clients and 200
   more mailings for the demo owner, 12 blog articles with images, and a bulk owner whose one mailing goes
   to --recipients clients.
2. Starts a counting SMTP sink (tests/fakes/smtp.py), gunicorn with --workers sync workers (as the Procfile
   runs it) and one `runapscheduler`, waits for /readyz, starts the client, and makes the bulk mailing due
   when the client's users have signed in and the load begins.
3. The client is a process of its own (this script with --client): --users threads, each a user with its
   own sessions (requests, keep-alive where gunicorn allows it), first signed in (a session for the pages,
   a JWT for the API), then sending requests one after another for --seconds (at most --max-requests in
   all), each picked at random by weight from: the home page, the blog index, an article, the owner's
   /mailings/ page (session), GraphQL `mailings(first: 50)` (JWT), and a login (the login form posted from
   an anonymous session; PBKDF2 makes it ~0.3 s of CPU, so it is 1 % of the mix). Every answer is checked
   (status, and the content that proves it: 50 mailings, a session cookie, no redirect to the login page).
4. Prints requests/s, p50, p95, p99 and errors per endpoint and in all, the scheduler's send rate during the
   same window (deliveries of the bulk mailing marked sent within it, per second; the sink's count too), and
   a last machine-readable line `rps=… p99_ms=… errors=… send_rate=…`.

Everything shares the machine: the client, gunicorn, the scheduler, the sink, PostgreSQL and Redis. It
prints figures and asserts nothing about time; it exits 1 when a request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Weights of the mix (per request); a login costs ~0.3 s of CPU (PBKDF2), so it stays rare, as on a site.
MIX = {"home": 20, "blog": 15, "article": 20, "mailings": 20, "graphql": 24, "login": 1}
GRAPHQL_QUERY = (
    "query Load { mailings(first: 50) { totalCount edges { node { id status message { subject } } } } }"
)
API_SIGN_IN = (
    "mutation Login($email: String!, $password: String!) { "
    "tokenAuth(email: $email, password: $password) { token errors { message } } }"
)
EXTRA_CLIENTS = 950
EXTRA_MAILINGS = 200
ARTICLES = 12
BULK_EMAIL = "bulk-sender@example.com"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the client (a process of its own) ------------------------------------------------------------------


def run_client(config: dict) -> dict:
    import requests

    base = config["url"]
    deadline_box: list[float] = []
    results: list[tuple[str, float, bool]] = []
    failures: list[str] = []
    budget = {"left": config["max_requests"]}
    lock = threading.Lock()
    clock: dict[str, float] = {}

    def start_the_clock() -> None:
        clock["started"] = time.monotonic()
        clock["started_at"] = time.time()
        deadline_box.append(clock["started"] + config["seconds"])
        print("started", flush=True)  # the orchestrator makes the bulk mailing due now

    # Everyone signs in first; the clock starts when the last one has (the barrier's action).
    ready = threading.Barrier(config["users"] + 1, action=start_the_clock)

    def fail(what: str) -> None:
        with lock:
            if len(failures) < 20:
                failures.append(what)

    def csrf_of(session) -> str:
        return session.cookies.get("csrftoken", "")

    def sign_in(session) -> bool:
        """The login form posted from `session` (anonymous, with a CSRF cookie): a new session cookie."""
        session.cookies.pop("sessionid", None)
        response = session.post(
            f"{base}/accounts/login/",
            data={
                "username": config["email"],
                "password": config["password"],
                "csrfmiddlewaretoken": csrf_of(session),
            },
            allow_redirects=False,
            timeout=60,
        )
        ok = response.status_code == 302 and "sessionid" in response.cookies
        if not ok:
            fail(f"login: {response.status_code} {response.text[:200]!r}")
        return ok

    def user(number: int) -> None:
        rng = random.Random(number)
        anonymous, owner, api, login = (requests.Session() for _ in range(4))
        try:
            for session in (owner, login):
                session.get(f"{base}/accounts/login/", timeout=60)  # the CSRF cookie
            if not sign_in(owner):
                raise RuntimeError("could not sign in")
            answer = api.post(
                f"{base}/graphql/",
                json={
                    "query": API_SIGN_IN,
                    "variables": {"email": config["email"], "password": config["password"]},
                },
                timeout=60,
            ).json()
            token = answer["data"]["tokenAuth"]["token"]
            if not token:
                raise RuntimeError(f"no token: {answer}")
            api.headers["Authorization"] = f"JWT {token}"
        except Exception as exc:
            fail(f"user {number} setup: {exc}")
            ready.abort()
            return
        ready.wait()
        deadline = deadline_box[0]

        def home():
            r = anonymous.get(f"{base}/", timeout=60)
            return r.status_code == 200 and b"</html>" in r.content, r

        def blog():
            r = anonymous.get(f"{base}/blog/", timeout=60)
            return r.status_code == 200 and b"</html>" in r.content, r

        def article():
            r = anonymous.get(f"{base}{rng.choice(config['articles'])}", timeout=60)
            return r.status_code == 200 and b"</html>" in r.content, r

        def mailings():
            r = owner.get(f"{base}/mailings/", allow_redirects=False, timeout=60)
            return r.status_code == 200 and b"</html>" in r.content, r

        def graphql():
            r = api.post(f"{base}/graphql/", json={"query": GRAPHQL_QUERY}, timeout=60)
            try:
                body = r.json()
                ok = "errors" not in body and len(body["data"]["mailings"]["edges"]) == 50
            except (ValueError, KeyError, TypeError):
                ok = False
            return r.status_code == 200 and ok, r

        def do_login():
            return sign_in(login), None

        actions = {
            "home": home,
            "blog": blog,
            "article": article,
            "mailings": mailings,
            "graphql": graphql,
            "login": do_login,
        }
        names, weights = list(MIX), list(MIX.values())
        while time.monotonic() < deadline:
            with lock:
                if budget["left"] <= 0:
                    return
                budget["left"] -= 1
            name = rng.choices(names, weights)[0]
            started = time.perf_counter()
            try:
                ok, response = actions[name]()
            except requests.RequestException as exc:
                ok, response = False, None
                fail(f"{name}: {type(exc).__name__}: {exc}")
            elapsed = (time.perf_counter() - started) * 1000
            if not ok and response is not None:
                fail(f"{name}: HTTP {response.status_code} {response.text[:200]!r}")
            with lock:
                results.append((name, elapsed, ok))

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(config["users"])]
    setup_started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=600)
    except threading.BrokenBarrierError:
        return {"error": "setup failed", "failures": failures}
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started, started_at = clock["started"], clock["started_at"]
    setup_seconds = started - setup_started
    for thread in threads:
        thread.join(timeout=config["seconds"] + 120)
    elapsed = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "results": results,
        "failures": failures,
        "elapsed": elapsed,
        "started_at": started_at,
        "ended_at": started_at + elapsed,
        "setup_seconds": setup_seconds,
        "client_cpu_seconds": cpu,
    }


def client_main() -> None:
    config = json.loads(sys.stdin.read())
    outcome = run_client(config)
    print(json.dumps(outcome), flush=True)


# --- the orchestrator ---------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def create_database(server: str) -> tuple[str, callable]:
    import psycopg2

    name = f"mailer_load_{os.getpid()}"
    admin = psycopg2.connect(f"{server.rstrip('/')}/postgres", connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()


def seed(recipients: int) -> dict:
    """The demo account (seed_demo) and more: what the client requests and what the scheduler sends."""
    import io

    from django.core.files.images import ImageFile
    from django.core.management import call_command
    from django.utils import timezone
    from PIL import Image as PILImage
    from wagtail.images.models import Image

    from backend.accounts.models import User
    from backend.mailings.models import Client, Mailing, Message
    from cms.models import ArticlePage, BlogIndexPage

    started = time.perf_counter()
    call_command("seed_demo", "--force", stdout=io.StringIO())  # production settings, throwaway database
    demo = User.objects.get(email__iexact=os.environ["DEMO_EMAIL"])
    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(owner=demo, email=f"reader{n:04d}@example.org", full_name=f"Reader {n}")
            for n in range(EXTRA_CLIENTS)
        ]
    )
    message = Message.objects.create(
        owner=demo, subject="Weekly news for {first_name}", body="Hello {full_name}"
    )
    mailings = Mailing.objects.bulk_create(
        [
            Mailing(
                owner=demo,
                message=message,
                start_at=now + timezone.timedelta(days=1 + n % 30),
                end_at=now + timezone.timedelta(days=60),
                periodicity="weekly" if n % 2 else "once",
                next_run_at=now + timezone.timedelta(days=1 + n % 30),
            )
            for n in range(EXTRA_MAILINGS)
        ]
    )
    through = Mailing.clients.through
    through.objects.bulk_create(
        [
            through(mailing_id=mailing.pk, client_id=clients[(index * 20 + k) % len(clients)].pk)
            for index, mailing in enumerate(mailings)
            for k in range(20)
        ],
        batch_size=5000,
    )

    blog = BlogIndexPage.objects.get()
    articles = []
    for n in range(ARTICLES):
        buffer = io.BytesIO()
        PILImage.new("RGB", (1200, 675), (n * 20 % 255, 120, 160)).save(buffer, "JPEG")
        image = Image.objects.create(title=f"load {n}", file=ImageFile(buffer, name=f"load{n}.jpg"))
        article = ArticlePage(
            title=f"Warm-up mailings, part {n + 1}",
            intro="Why warm-up mailings keep customers.",
            main_image=image,
            body=[("heading", "Why")]
            + [("paragraph", "<p>" + "Mailing keeps clients warm. " * 40 + "</p>")] * 4,
        )
        blog.add_child(instance=article)
        article.save_revision().publish()
        articles.append(article)

    bulk_id = bulk_mailing(recipients, now) if recipients else None
    print(
        f"seeded: seed_demo + {EXTRA_CLIENTS} clients and {EXTRA_MAILINGS} mailings for the demo owner, "
        f"{ARTICLES} articles, a mailing to {recipients:,} clients; {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return {"articles": [urlsplit(article.full_url).path for article in articles], "bulk_id": bulk_id}


def bulk_mailing(recipients: int, now) -> int:
    """Another owner's mailing to `recipients` clients, due tomorrow until the load starts."""
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings.models import Client, Mailing, Message

    owner = User.objects.create_user(BULK_EMAIL, "bulk-password-1", email_verified=True)
    clients = Client.objects.bulk_create(
        [
            Client(owner=owner, email=f"subscriber{n:06d}@example.net", full_name=f"Subscriber {n}")
            for n in range(recipients)
        ],
        batch_size=5000,
    )
    body = ("Hello {full_name},\n\n" + "This is the autumn newsletter with news you asked for. " * 16)[:1000]
    message = Message.objects.create(owner=owner, subject="Autumn news for {first_name}", body=body)
    tomorrow = now + timezone.timedelta(days=1)
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=tomorrow,
        end_at=tomorrow + timezone.timedelta(days=1),
        next_run_at=tomorrow,
    )
    through = Mailing.clients.through
    through.objects.bulk_create(
        [through(mailing_id=mailing.pk, client_id=client.pk) for client in clients], batch_size=5000
    )
    return mailing.pk


def wait_for(url: str, *, seconds: float, status: int = 200) -> int | None:
    import requests

    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=2).status_code
            if last == status:
                return last
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return last


def spawn(arguments: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A Python child whose output goes to `log` (a pipe nobody reads could fill and stall it)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )


def stop(process: subprocess.Popen | None, timeout: float = 30) -> str:
    if process is None or process.poll() is not None:
        return ""
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=50, help="concurrent users (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load (default 60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--recipients", type=int, default=30000, help="the bulk mailing's clients (30,000; 0: no sending)"
    )
    parser.add_argument("--max-requests", type=int, default=500_000, help="stop after this many requests")
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    if args.client:
        client_main()
        return
    for name in ("users", "seconds", "workers", "max_requests"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.recipients < 0:
        parser.error("--recipients must be 0 (nothing to send) or more")

    try:
        flush_redis(args.redis)
        database_url, drop_database = create_database(args.postgres)
    except Exception as exc:  # `make bench` on a machine without the services: say so, fail nothing
        print(f"load test skipped: it needs PostgreSQL ({args.postgres}) and Redis ({args.redis}): {exc}")
        return
    processes: list[subprocess.Popen] = []
    try:
        web_port, sink_port = free_port(), free_port()
        env = {
            **{key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}},
            "DEBUG": "0",
            "SECRET_KEY": "load-" + os.urandom(24).hex(),
            "JWT_SECRET_KEY": "load-jwt-" + os.urandom(24).hex(),
            "ENV_FILE": str(ROOT / "var" / "no-such.env"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": f"http://127.0.0.1:{web_port}",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink_port),
            "MEDIA_ROOT": tempfile.mkdtemp(prefix="mailer-load-media-"),
            "LOG_LEVEL": "WARNING",
            "DEMO_EMAIL": "demo@example.com",
            "DEMO_PASSWORD": "demo-mailer-2026",
            "DEMO_MANAGER_EMAIL": "",
            "DJANGO_SETTINGS_MODULE": "backend.settings",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection, connections
        from django.db.models import Count, Max, Min, Q
        from django.utils import timezone

        from backend.mailings.models import Delivery, Mailing

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        print(
            f"database {connection.settings_dict['NAME']} migrated, static files collected "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        seeded = seed(args.recipients)
        database_name = connection.settings_dict["NAME"]
        hash_started = time.process_time()
        make_password("a password to time")
        hash_seconds = time.process_time() - hash_started
        connections.close_all()

        sink = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.smtp", "--port", str(sink_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(sink)
        assert sink.stdout.readline().strip() == "ready"
        logs = Path(env["MEDIA_ROOT"]).parent / f"mailer-load-{os.getpid()}"
        logs.mkdir(exist_ok=True)
        gunicorn = ["-m", "gunicorn", "-c", "python:backend.gunicorn_conf", "backend.wsgi"]
        bind = ["--bind", f"127.0.0.1:{web_port}", "--workers", str(args.workers)]
        services = {
            "web": spawn([*gunicorn, *bind], env, logs / "gunicorn.log"),
            "scheduler": spawn(["manage.py", "runapscheduler"], env, logs / "scheduler.log"),
        }
        processes += services.values()
        base = f"http://127.0.0.1:{web_port}"
        if wait_for(f"{base}/healthz", seconds=60) != 200:
            sys.exit("gunicorn did not answer /healthz")
        ready = wait_for(f"{base}/readyz", seconds=30)
        print(f"gunicorn: {args.workers} workers; /readyz {ready} once the scheduler ticked", flush=True)

        config = {
            "url": base,
            "users": args.users,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "email": env["DEMO_EMAIL"],
            "password": env["DEMO_PASSWORD"],
            "articles": seeded["articles"],
        }
        print(f"client: {args.users} users signing in, then {args.seconds:g} s of load …", flush=True)
        with tempfile.TemporaryFile("w+") as client_errors:
            client = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--client"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=client_errors,
                text=True,
            )
            processes.append(client)
            client.stdin.write(json.dumps(config))
            client.stdin.close()
            if client.stdout.readline().strip() == "started":
                cpu_before = {name: cpu_seconds(process.pid) for name, process in services.items()}
                cpu_before["database"] = database_cpu_seconds(database_name)
                if seeded["bulk_id"]:
                    # Due now: the scheduler's next tick starts it while the load runs.
                    now = timezone.now()
                    Mailing.objects.filter(pk=seeded["bulk_id"]).update(start_at=now, next_run_at=now)
                    connections.close_all()
            last = client.stdout.read().strip().splitlines()
            cpu = {name: cpu_seconds(process.pid) - cpu_before[name] for name, process in services.items()}
            cpu["database"] = database_cpu_seconds(database_name) - cpu_before["database"]
            client.wait(timeout=args.seconds + 900)
            client_errors.seek(0)
            if client.returncode != 0 or not last:
                sys.exit(f"the client failed: {client_errors.read()[-3000:]}")
        outcome = json.loads(last[-1])
        if "error" in outcome:
            sys.exit(f"the client failed: {outcome}")
        readyz_after = wait_for(f"{base}/readyz", seconds=1)

        window = (dt_from(outcome["started_at"]), dt_from(outcome["ended_at"]))
        span = Delivery.objects.filter(mailing_id=seeded["bulk_id"]).aggregate(
            in_window=Count("pk", filter=Q(status="sent", sent_at__gte=window[0], sent_at__lte=window[1])),
            sent=Count("pk", filter=Q(status="sent")),
            queued=Count("pk"),
            first=Min("sent_at", filter=Q(sent_at__gte=window[0])),
            last=Max("sent_at", filter=Q(sent_at__lte=window[1])),
        )
        # Sending starts at the scheduler's first tick after the load began, and may end before it does.
        sending = (span["last"] - span["first"]).total_seconds() if span["in_window"] > 1 else 0.0
        connections.close_all()
    finally:
        sink_output = ""
        for process in reversed(processes):
            output = stop(process)
            if process is processes[0]:
                sink_output = output
        try:
            flush_redis(args.redis)
        finally:
            drop_database()

    sink = re.search(r"received=(\d+)", sink_output)
    measured = {
        "span": span,
        "sending_seconds": sending,
        "send_rate": span["in_window"] / sending if sending else 0.0,
        "sink": sink.group(1) if sink else "?",
        "cpu": cpu,
        "hash_seconds": hash_seconds,
        "readyz": (ready, readyz_after),
        "logs": logs,
    }
    report(outcome, args, measured)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
        for one in pids:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        pass
    return total


def database_cpu_seconds(name: str) -> float:
    """CPU time so far of the PostgreSQL backends connected to database `name` (Linux /proc, same host;
    a backend that exits meanwhile takes its share with it, so this is a lower bound)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f" {name} ".encode() not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, ValueError, IndexError):
            continue
    return total


def dt_from(timestamp: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def report(outcome: dict, args, measured: dict) -> None:
    results, elapsed = outcome["results"], outcome["elapsed"]
    by_name: dict[str, list[tuple[float, bool]]] = {}
    for name, ms, ok in results:
        by_name.setdefault(name, []).append((ms, ok))
    print(
        f"\n{args.users} users for {elapsed:.1f} s against gunicorn ({args.workers} sync workers), "
        "PostgreSQL + Redis, one scheduler sending at the same time "
        f"(setup: {outcome['setup_seconds']:.0f} s of sign-ins)"
    )
    print(
        f"{'endpoint':10s} {'requests':>9s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} errors"
    )
    total_errors = 0
    for name in [*MIX, "all"]:
        entries = [entry for key, values in by_name.items() if name in (key, "all") for entry in values]
        if not entries:
            continue
        times = [ms for ms, _ in entries]
        errors = sum(1 for _, ok in entries if not ok)
        total_errors = errors if name == "all" else total_errors
        print(
            f"{name:10s} {len(entries):9d} {len(entries) / elapsed:8.1f} {percentile(times, 0.50):8.0f} "
            f"{percentile(times, 0.95):8.0f} {percentile(times, 0.99):8.0f} {errors:6d}"
        )
    for failure in outcome["failures"][:10]:
        print(f"  failure: {failure}")
    rps = len(results) / elapsed
    p99 = percentile([ms for _, ms, _ in results], 0.99)
    span, cpu = measured["span"], measured["cpu"]
    print(
        f"scheduler: {span['in_window']:,} messages sent during the load, "
        f"over {measured['sending_seconds']:.1f} s from its first tick = {measured['send_rate']:.0f} msgs/s "
        f"({span['sent']:,} of {span['queued']:,} queued sent in all; the sink received {measured['sink']})"
    )
    load = os.getloadavg()[0]
    logins = len(by_name.get("login", []))
    hashing = logins * measured["hash_seconds"]
    pages = max(len(results) - logins, 1)
    sent = span["in_window"]
    per_message = f", {1000 * cpu['scheduler'] / sent:.2f} ms per message" if sent else ""
    print(
        f"CPU during the load: web {cpu['web']:.0f} s ({cpu['web'] / elapsed:.2f} cores; "
        f"{1000 * (cpu['web'] - hashing) / pages:.1f} ms per request besides the {logins} logins' "
        f"password checks, {1000 * measured['hash_seconds']:.0f} ms each), database backends at least "
        f"{cpu['database']:.0f} s, scheduler {cpu['scheduler']:.0f} s{per_message}, client "
        f"{outcome['client_cpu_seconds']:.0f} s; {os.cpu_count()} cores, load average {load:.1f} at the end"
    )
    before, after = measured["readyz"]
    print(f"/readyz: {before} before the load, {after} right after it; logs: {measured['logs']}")
    print(
        f"rps={rps:.1f} p99_ms={p99:.0f} errors={total_errors} send_rate={measured['send_rate']:.0f} "
        f"users={args.users} seconds={elapsed:.0f} workers={args.workers} "
        f"web_cpu_ms={1000 * (cpu['web'] - hashing) / pages:.1f} "
        f"db_cpu_s={cpu['database']:.0f}"
    )
    if total_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
