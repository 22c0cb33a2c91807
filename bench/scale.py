"""Big lists (R-AUD, "big lists, fast"): every page and API call an owner uses, at N clients and an occurrence
of N deliveries.

    python bench/scale.py [--clients N] [--chosen K] [--send S] [--rounds R] [--skip-forms] [--skip-send]

In a throw-away database (bench/support/throwaway_db.py: a new PostgreSQL database when DATABASE_URL names a
server, dropped at the end; else a SQLite file), seeds one owner with N clients (default 1,000,000 on
PostgreSQL, 50,000 on SQLite; K and S below default to 10,000 there) in one `generate_series` (or recursive
CTE) statement, then:
  1. sends a mailing to S chosen clients (default 100,000) with `manage.py send_mailing` in a child process
     against a local SMTP sink (tests/fakes/smtp.py), as bench/send_throughput.py does: its rate (messages
     over the time from the occurrence's creation to its last attempt) and the child's peak RSS. First, while
     this process is still small (a child started with vfork inherits its parent's peak RSS);
  2. makes a daily mailing to everyone and times `scheduling.materialise` of its occurrence (N deliveries,
     one INSERT ... SELECT), marks them sent (1 % failed) with one attempt each in SQL, and times the pass's
     `finish` step that freezes the occurrence's totals;
  3. gives a mailing to K chosen clients (default 100,000) a running occurrence (K pending deliveries: the
     counts read live);
  4. times, through Django's test client (server time in this process: median of R rounds after a warm-up),
     with the number of SQL queries and the response's size: the client list (first page, a search, the
     last page), the mailing form (new, and the edit page of the K-client mailing: once each, see
     --skip-forms), the mailing page, its report, the reports list, the dashboard, the manager page, and
     the API's mailingReport, dashboard and allMailings (as the manager); the audience's size (the API's
     `audienceSize` when the schema has it, else `selectors.audience_size`);
  5. the import rate: with --import-rows R, the background import of an R-row file (`bench/import_rate.py`;
     1,000,000 rows take minutes), else `services.clients_import_csv` on 20,000 rows (the in-request import);
  6. times the retention purge (`retention.purge_delivery_log`) of the N-delivery occurrence as if 100 days
     had passed.
It prints figures and asserts nothing about time. The last line is machine-readable:
`max_page_ms=… max_page_kb=… import_rows_per_s=… materialise_s=… send_rss_mib=…` (the maxima over the pages
of step 4 except the two form pages, which are reported on their own line as `form_ms`/`form_kb`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402
from bench.support.throwaway_db import fresh_database  # noqa: E402

OWNER_EMAIL, MANAGER_EMAIL, PASSWORD = "bench-owner@example.com", "bench-manager@example.com", "bench-pw-1"
OPERATIONS = ROOT / "graphql" / "operations"
BODY = "Hello {full_name},\n\nThe autumn newsletter. " + "News you asked for. " * 40
SEARCH = "reader4242"  # an email fragment: reader4242@, reader42420@ ... (a handful of rows)
AUDIENCE_SIZE_QUERY = "query ($id: ID!) { mailing(id: $id) { audienceSize } }"


def seed_clients(cursor, vendor: str, owner_id: int, count: int, first: int = 1) -> None:
    """`count` clients reader<first>@example.org ... in one statement, created a second apart."""
    if vendor == "postgresql":
        cursor.execute(
            "INSERT INTO mailings_client "
            "(owner_id, email, full_name, comment, created_at, unsubscribe_token) "
            "SELECT %s, 'reader' || g || '@example.org', 'Reader ' || g, '', "
            "now() - (g * interval '1 second'), md5(g::text) || md5(random()::text) "
            "FROM generate_series(%s, %s) AS g",
            [owner_id, first, first + count - 1],
        )
    else:
        cursor.execute(
            "WITH RECURSIVE s(g) AS (SELECT %s UNION ALL SELECT g + 1 FROM s WHERE g < %s) "
            "INSERT INTO mailings_client "
            "(owner_id, email, full_name, comment, created_at, unsubscribe_token) "
            "SELECT %s, 'reader' || g || '@example.org', 'Reader ' || g, '', "
            "datetime('now', '-' || g || ' seconds'), lower(hex(randomblob(32))) FROM s",
            [first, first + count - 1, owner_id],
        )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send_in_child(mailing_id: int) -> tuple[str, float]:
    """`manage.py send_mailing` in a child: its output and its peak RSS in MiB."""
    command = [sys.executable, "manage.py", "send_mailing", str(mailing_id)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, cwd=ROOT, env=os.environ, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"send_mailing failed: {err.read().strip()[-2000:]}")
        return out.read().strip(), usage.ru_maxrss / 1024


def import_rate(owner, rows: int = 0) -> tuple[float | None, str]:
    """Rows per second of the client import, and how it was measured."""
    if rows:
        from bench import import_rate as background

        return background.import_rate(rows)[
            "rows_per_s"
        ], f"the background import (scheduler job), {rows:,} rows"
    from backend.mailings import services
    from bench.clients_import import csv_file

    rows = 20_000
    data = csv_file(rows, name="Читатель")
    started = time.perf_counter()
    services.clients_import_csv(actor=owner, data=data)
    return rows / (
        time.perf_counter() - started
    ), f"services.clients_import_csv in the request, {rows:,} rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, default=None, help="clients (default 1,000,000; SQLite 50,000)"
    )
    parser.add_argument(
        "--chosen",
        type=int,
        default=None,
        help="clients of the edited mailing (default 100,000; SQLite 10,000)",
    )
    parser.add_argument(
        "--send", type=int, default=None, help="recipients of the timed send (default 100,000; SQLite 10,000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per page (median)")
    parser.add_argument("--skip-forms", action="store_true", help="do not time the mailing form pages")
    parser.add_argument("--skip-send", action="store_true", help="do not time a send")
    parser.add_argument(
        "--import-rows",
        type=int,
        default=0,
        help="time the background import of a file of this many rows (default: 20,000 rows in the request)",
    )
    args = parser.parse_args()
    production_mode()
    vendor, remove = fresh_database("scale")
    clients = args.clients or (1_000_000 if vendor == "postgresql" else 50_000)
    big = vendor == "postgresql"
    chosen = min(args.chosen or (100_000 if big else 10_000), clients)
    send = min(args.send or (100_000 if big else 10_000), clients)
    port = free_port()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), MAILER_RATE_LIMIT="0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import warnings

    import django

    # Whitenoise warns that collectstatic has not run; the static files come from their folders here.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    try:
        run(args, vendor, clients, chosen, send, port)
    finally:
        remove()


def run(args, vendor: str, clients: int, chosen: int, send: int, port: int) -> None:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client as Browser
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings import retention, scheduling, selectors
    from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence
    from backend.mailings.sending.occurrences import finish
    from backend.mailings.sending.summary import PassSummary

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user(OWNER_EMAIL, PASSWORD, email_verified=True, first_name="Bench")
    manager = User.objects.create_user(MANAGER_EMAIL, PASSWORD, email_verified=True, first_name="Manager")
    manager.groups.add(Group.objects.get(name="Managers"))
    message = Message.objects.create(owner=owner, subject="Autumn news for {first_name}", body=BODY)
    now = timezone.now()

    def tidy() -> None:
        if vendor == "postgresql":  # what autovacuum does after a bulk load (it is off on the dev machine)
            with connection.cursor() as cursor:
                for model in (
                    Client,
                    Mailing.clients.through,
                    Delivery,
                    DeliveryAttempt,
                    Occurrence,
                    Mailing,
                ):
                    cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')

    started = time.perf_counter()
    with connection.cursor() as cursor:
        seed_clients(cursor, vendor, owner.pk, clients)
    tidy()
    print(f"seeded {clients:,} clients on {vendor} in {time.perf_counter() - started:.1f} s")
    lowest = Client.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True).first()

    def mailing_to(count: int, audience=Mailing.Audience.CLIENTS, **fields) -> Mailing:
        mailing = Mailing.objects.create(
            owner=owner,
            message=message,
            audience=audience,
            start_at=now - dt.timedelta(days=1),
            end_at=now + dt.timedelta(days=30),
            next_run_at=None,
            **fields,
        )
        if audience == Mailing.Audience.CLIENTS:
            through = Mailing.clients.through
            with connection.cursor() as cursor:
                cursor.execute(
                    f'INSERT INTO "{through._meta.db_table}" (mailing_id, client_id) '  # noqa: S608
                    "SELECT %s, id FROM mailings_client WHERE owner_id = %s AND id < %s",
                    [mailing.pk, owner.pk, lowest + count],
                )
        return mailing

    # 1. the send, while this process is small
    send_fields = "send_rate=NA"
    send_rss = "NA"
    if not args.skip_send:
        mailing = mailing_to(send)
        tidy()
        sink = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.smtp", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert sink.stdout.readline().strip() == "ready"
            summary, peak = send_in_child(mailing.pk)
        finally:
            sink.terminate()
            sink.wait()
        occurrence = Occurrence.objects.get(mailing=mailing)
        last = (
            DeliveryAttempt.objects.filter(delivery__occurrence=occurrence).order_by("-attempted_at").first()
        )
        sent = occurrence.deliveries.filter(status="sent").count()
        rate = sent / max((last.attempted_at - occurrence.created_at).total_seconds(), 1e-6)
        print(f"send of {send:,}: {summary}")
        print(f"send: {sent:,} sent at {rate:,.0f} msgs/s; sender peak RSS {peak:.0f} MiB")
        send_rss = f"{peak:.0f}"
        send_fields = f"send_rate={rate:.0f}"

    # 2. the daily mailing to everyone: its occurrence of N deliveries
    everyone = mailing_to(clients, Mailing.Audience.EVERYONE, periodicity=Mailing.Periodicity.DAILY)
    occurrence = Occurrence.objects.create(mailing=everyone, scheduled_for=now - dt.timedelta(days=1))
    started = time.perf_counter()
    made = scheduling.materialise(occurrence, now - dt.timedelta(days=1))
    materialise_s = time.perf_counter() - started
    print(f"materialise: {made:,} deliveries in {materialise_s:.1f} s")
    sent_at = now - dt.timedelta(hours=20)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE mailings_delivery SET status = CASE WHEN mod(id, 100) = 0 THEN 'failed' ELSE 'sent' END, "
            "attempts = 1, last_attempt_at = %s, sent_at = CASE WHEN mod(id, 100) = 0 THEN NULL ELSE %s END, "
            "last_response = CASE WHEN mod(id, 100) = 0 THEN '550 5.1.1 no such user' ELSE '250 OK' END "
            "WHERE occurrence_id = %s",
            [sent_at, sent_at, occurrence.pk],
        )
        cursor.execute(
            "INSERT INTO mailings_deliveryattempt (delivery_id, attempted_at, outcome, smtp_code, response) "
            "SELECT id, last_attempt_at, CASE WHEN status = 'sent' THEN 'sent' ELSE 'permanent' END, "
            "CASE WHEN status = 'sent' THEN 250 ELSE 550 END, last_response "
            "FROM mailings_delivery WHERE occurrence_id = %s",
            [occurrence.pk],
        )
    Mailing.objects.filter(pk=everyone.pk).update(
        status=Mailing.Status.STARTED, next_run_at=now + dt.timedelta(hours=4)
    )
    tidy()
    started = time.perf_counter()
    finish(PassSummary())
    freeze_s = time.perf_counter() - started
    occurrence.refresh_from_db()
    print(
        f"finish (totals frozen: {occurrence.sent_total:,} sent, {occurrence.failed_total:,} failed): "
        f"{freeze_s:.2f} s"
    )

    # 3. a mailing to K chosen clients with a running occurrence
    picked = mailing_to(chosen)
    running = Occurrence.objects.create(mailing=picked, scheduled_for=now - dt.timedelta(minutes=5))
    scheduling.materialise(running, now + dt.timedelta(days=1))  # pending, due tomorrow: nobody claims them
    Mailing.objects.filter(pk=picked.pk).update(status=Mailing.Status.STARTED)
    tidy()

    # 4. pages and API calls: {% static %} without a collectstatic manifest, as tests do
    from django.test.utils import override_settings

    override_settings(
        ALLOWED_HOSTS=["testserver"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ).enable()
    owner_browser = Browser(enforce_csrf_checks=True)
    owner_browser.force_login(owner)
    manager_browser = Browser(enforce_csrf_checks=True)
    manager_browser.force_login(manager)
    for browser, url in ((owner_browser, "/dashboard/"), (manager_browser, "/manager/")):
        assert browser.get(url).status_code == 200

    def graphql(browser, query: str, variables: dict | None = None):
        def call():
            body = json.dumps({"query": query, "variables": variables or {}})
            csrf = browser.cookies["csrftoken"].value
            response = browser.post("/graphql/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
            assert response.status_code == 200, response.content[:300]
            assert "errors" not in response.json(), response.content[:500]
            return response

        return call

    def page(browser, url: str):
        def call():
            response = browser.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return call

    operation = {
        name: (OPERATIONS / f"{name}.graphql").read_text()
        for name in ("mailingReport", "dashboard", "managerMailings")
    }
    from graphql_relay import to_global_id

    calls = [
        ("GET /clients/ (first page)", page(owner_browser, "/clients/")),
        (f"GET /clients/?q={SEARCH}", page(owner_browser, f"/clients/?q={SEARCH}")),
        ("GET /clients/ (last page)", page(owner_browser, "/clients/?page=999999")),
        ("GET /mailings/<id>/ (N deliveries)", page(owner_browser, f"/mailings/{everyone.pk}/")),
        ("GET /mailings/<id>/report/", page(owner_browser, f"/mailings/{everyone.pk}/report/")),
        ("GET /mailings/<id>/ (running, K pending)", page(owner_browser, f"/mailings/{picked.pk}/")),
        ("GET /reports/", page(owner_browser, "/reports/")),
        ("GET /dashboard/", page(owner_browser, "/dashboard/")),
        ("GET /manager/", page(manager_browser, "/manager/")),
        (
            "API mailingReport",
            graphql(owner_browser, operation["mailingReport"], {"id": to_global_id("Mailing", everyone.pk)}),
        ),
        ("API dashboard", graphql(owner_browser, operation["dashboard"])),
        (
            "API allMailings (manager, 50)",
            graphql(manager_browser, operation["managerMailings"], {"first": 50}),
        ),
    ]
    from backend.api.schema import schema

    if "audienceSize" in str(schema):
        calls.append(
            (
                "API audienceSize (everyone)",
                graphql(owner_browser, AUDIENCE_SIZE_QUERY, {"id": to_global_id("Mailing", everyone.pk)}),
            )
        )

    def measure(call, rounds: int) -> tuple[float, int, int]:
        call()  # warm-up
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            response = call()
        return statistics.median(times), len(captured), len(response.content)

    print(f"{'request':44} {'ms':>9} {'queries':>8} {'KB':>9}")
    worst_ms = worst_kb = 0.0
    for label, call in calls:
        ms, queries, size = measure(call, args.rounds)
        worst_ms, worst_kb = max(worst_ms, ms), max(worst_kb, size / 1024)
        print(f"{label:44} {ms:9.1f} {queries:8d} {size / 1024:9.1f}")
    if "audienceSize" not in str(schema):
        times = []
        for _ in range(args.rounds + 1):
            started = time.perf_counter()
            size = selectors.audience_size(everyone)
            times.append((time.perf_counter() - started) * 1000)
        ms = statistics.median(times[1:])
        worst_ms = max(worst_ms, ms)
        print(f"{'selectors.audience_size (everyone; no API)':44} {ms:9.1f} {1:8d} {'-':>9}  ({size:,})")
    form_ms = form_kb = 0.0
    if not args.skip_forms:
        for label, url in (
            ("GET /mailings/new/", "/mailings/new/"),
            ("GET /mailings/<id>/edit/ (K)", f"/mailings/{picked.pk}/edit/"),
        ):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                response = page(owner_browser, url)()
            ms = (time.perf_counter() - started) * 1000
            form_ms, form_kb = max(form_ms, ms), max(form_kb, len(response.content) / 1024)
            print(f"{label:44} {ms:9.1f} {len(captured):8d} {len(response.content) / 1024:9.1f}  (once)")
            del response

    # 5. import
    importer = User.objects.create_user("bench-importer@example.com", PASSWORD, email_verified=True)
    rows_per_s, how = import_rate(importer, args.import_rows)
    print(f"import: {rows_per_s:,.0f} rows/s ({how})")

    # 6. retention
    started = time.perf_counter()
    purged = retention.purge_delivery_log(now=now + dt.timedelta(days=100), days=90)
    purge_s = time.perf_counter() - started
    print(
        f"purge: {purged:,} deliveries and their attempts in {purge_s:.1f} s "
        f"({purged / max(purge_s, 1e-6):,.0f}/s)"
    )
    page(owner_browser, f"/mailings/{everyone.pk}/report/")()

    print(f"forms (one page of clients at most): form_ms={form_ms:.0f} form_kb={form_kb:.0f}")
    print(
        f"max_page_ms={worst_ms:.0f} max_page_kb={worst_kb:.0f} import_rows_per_s={rows_per_s:.0f} "
        f"materialise_s={materialise_s:.1f} send_rss_mib={send_rss} {send_fields} freeze_s={freeze_s:.2f} "
        f"purge_s={purge_s:.1f} clients={clients} db={vendor}"
    )


if __name__ == "__main__":
    main()
