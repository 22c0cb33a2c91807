"""What the manager dashboard costs (R-UI-8).

    python bench/manager_dashboard.py [--rounds R] [--browser]

Seeds 1,000 mailings of 200 owners (5 each, 10 clients per owner, two finished occurrences per mailing with
one delivery per client and its attempt, the attempts spread over the last 30 days) and a manager of the
Managers group into a fresh database: a throw-away SQLite file var/bench_manager.sqlite3 by default; with
DATABASE_URL pointing at a PostgreSQL server, a new database `mailer_bench_manager_<pid>` there, dropped at
the end. Then, through Django's test Client with the manager's session and CSRF header, as the page sends
them:
  - the SQL queries of `allMailings(first: N)` with owners and last-occurrence counts (the page's
    graphql/operations/managerMailings.graphql) for N = 5 and N = 100, and of `users(first: N)`;
  - R rounds of the page's data load, the three initial operations one after the other (managerStats,
    managerMailings and managerUsers, first: 50): median and p90 of each and of their sum.
`--browser` also serves the app on a loopback port (in this process, with the static files from their
folders) and, in Debian's Chromium (Playwright), signed in as the manager, times from navigation to
/manager/ to the first rendered mailing rows, and to every section ready, over 5 loads (median).
It prints figures and asserts nothing about time; the last line is machine-readable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402
from bench.support.throwaway_db import fresh_database  # noqa: E402

OWNERS = 200
MAILINGS_PER_OWNER = 5
CLIENTS_PER_OWNER = 10
OCCURRENCES_PER_MAILING = 2
PAGE = 50
BROWSER_LOADS = 5
MANAGER_EMAIL, MANAGER_PASSWORD = "bench-manager@example.com", "bench-manager-password-1"
OPERATIONS = ROOT / "graphql" / "operations"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Run in the page before its scripts: the time (from navigation start) at which the first mailing row and
# every section's "ready" state appear.
OBSERVER = """
(() => {
  const marks = {};
  window.__benchMarks = marks;
  const check = () => {
    const now = performance.now();
    if (!marks.firstRows && document.querySelector('[data-section=mailings] [data-rows] tr')) {
      marks.firstRows = now;
    }
    if (!marks.allReady && document.querySelectorAll('[data-section][data-state=ready]').length === 3) {
      marks.allReady = now;
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();
"""


# --- the database -------------------------------------------------------------------------------------------


def seed():
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence

    started = time.perf_counter()
    now = timezone.now()
    manager = User.objects.create_user(
        MANAGER_EMAIL, MANAGER_PASSWORD, first_name="Bench", last_name="Manager", email_verified=True
    )
    manager.groups.add(Group.objects.get(name="Managers"))
    owners = User.objects.bulk_create(
        [
            User(
                email=f"owner{n:03d}@example.com",
                first_name=f"Owner{n:03d}",
                last_name="Bench",
                email_verified=n % 7 != 0,
                is_blocked=n % 50 == 0,
                blocked_at=now if n % 50 == 0 else None,
                blocked_by=manager if n % 50 == 0 else None,
                blocked_reason="bench" if n % 50 == 0 else "",
            )
            for n in range(OWNERS)
        ]
    )
    clients = Client.objects.bulk_create(
        [
            Client(owner=owner, email=f"reader{k}.{owner.pk}@example.org", full_name=f"Reader {k}")
            for owner in owners
            for k in range(CLIENTS_PER_OWNER)
        ],
        batch_size=2000,
    )
    by_owner: dict[int, list] = {}
    for client in clients:
        by_owner.setdefault(client.owner_id, []).append(client)
    messages = Message.objects.bulk_create(
        [
            Message(owner=owner, subject=f"Autumn news #{k} of {owner.first_name}", body="Hello {full_name}")
            for owner in owners
            for k in range(MAILINGS_PER_OWNER)
        ],
        batch_size=2000,
    )
    statuses = (Mailing.Status.CREATED, Mailing.Status.STARTED, Mailing.Status.COMPLETED)
    mailings = Mailing.objects.bulk_create(
        [
            Mailing(
                owner_id=message.owner_id,
                message=message,
                start_at=now - dt.timedelta(days=29),
                end_at=now + dt.timedelta(days=30),
                periodicity=Mailing.Periodicity.WEEKLY,
                status=statuses[index % 3],
                is_active=index % 10 != 0,
            )
            for index, message in enumerate(messages)
        ],
        batch_size=2000,
    )
    through = Mailing.clients.through
    through.objects.bulk_create(
        [through(mailing_id=m.pk, client_id=c.pk) for m in mailings for c in by_owner[m.owner_id]],
        batch_size=5000,
    )
    occurrences = Occurrence.objects.bulk_create(
        [
            Occurrence(
                mailing=mailing,
                scheduled_for=now - dt.timedelta(days=(index * 7 + week * 14) % 30, hours=1),
                finished_at=now,
            )
            for index, mailing in enumerate(mailings)
            for week in range(OCCURRENCES_PER_MAILING)
        ],
        batch_size=2000,
    )
    mailing_owner = {mailing.pk: mailing.owner_id for mailing in mailings}
    deliveries = []
    for index, occurrence in enumerate(occurrences):
        for k, client in enumerate(by_owner[mailing_owner[occurrence.mailing_id]]):
            failed = (index + k) % 9 == 0
            deliveries.append(
                Delivery(
                    mailing_id=occurrence.mailing_id,
                    occurrence=occurrence,
                    client=client,
                    email=client.email,
                    status=Delivery.Status.FAILED if failed else Delivery.Status.SENT,
                    attempts=1,
                    last_attempt_at=occurrence.scheduled_for,
                )
            )
    deliveries = Delivery.objects.bulk_create(deliveries, batch_size=5000)
    when = {occurrence.pk: occurrence.scheduled_for for occurrence in occurrences}
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                delivery=delivery,
                attempted_at=when[delivery.occurrence_id],
                outcome="permanent" if delivery.status == Delivery.Status.FAILED else "sent",
                smtp_code=550 if delivery.status == Delivery.Status.FAILED else 250,
            )
            for delivery in deliveries
        ],
        batch_size=5000,
    )
    print(
        f"seeded {len(mailings):,} mailings of {OWNERS} owners, {len(clients):,} clients, "
        f"{len(occurrences):,} occurrences, {len(deliveries):,} deliveries with one attempt each "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return manager


# --- measuring ----------------------------------------------------------------------------------------------


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="timed page data loads (default 100)")
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    args = parser.parse_args()
    if args.rounds < 10:
        parser.error("--rounds must be at least 10")

    production_mode()
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ["SITE_URL"] = "http://127.0.0.1"
    vendor, drop = fresh_database("manager")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    try:
        run(args, vendor)
    finally:
        drop()


def run(args, vendor: str) -> None:
    import warnings

    import django

    # Whitenoise warns that collectstatic has not run; the static files come from their folders here.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    call_command("migrate", verbosity=0)
    seed()
    # The page's {% static %} without a collectstatic manifest (as DEBUG runs and tests do).
    static_files = override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    static_files.enable()

    from backend.accounts.models import User

    manager = User.objects.get(email=MANAGER_EMAIL)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.get("/manager/").status_code == 200
    csrf = client.cookies["csrftoken"].value
    texts = {
        name: (OPERATIONS / f"{name}.graphql").read_text()
        for name in ("managerStats", "managerMailings", "managerUsers")
    }

    def send(name: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": texts[name], "variables": variables or {}})
        response = client.post("/graphql/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
        assert response.status_code == 200, response.content[:500]
        data = response.json()
        assert "errors" not in data, data["errors"]
        return data["data"]

    page = send("managerMailings", {"first": PAGE})["allMailings"]
    assert page["totalCount"] == OWNERS * MAILINGS_PER_OWNER and len(page["edges"]) == PAGE
    assert all(edge["node"]["lastOccurrence"] for edge in page["edges"])

    queries = {}
    for name, connection_name in (("managerMailings", "allMailings"), ("managerUsers", "users")):
        for first in (5, 100):
            with CaptureQueriesContext(connection) as captured:
                answer = send(name, {"first": first})
            assert len(answer[connection_name]["edges"]) == first
            queries[(name, first)] = len(captured)
    with CaptureQueriesContext(connection) as captured:
        send("managerStats")
    queries[("managerStats", 0)] = len(captured)
    print(
        "SQL queries per request (session auth included): "
        f"allMailings N=5: {queries[('managerMailings', 5)]}, N=100: {queries[('managerMailings', 100)]}; "
        f"users N=5: {queries[('managerUsers', 5)]}, N=100: {queries[('managerUsers', 100)]}; "
        f"serviceStats: {queries[('managerStats', 0)]}"
    )

    calls = (
        ("managerStats", {}),
        ("managerMailings", {"first": PAGE}),
        ("managerUsers", {"first": PAGE}),
    )
    for _ in range(10):  # warm-up: caches, connections, code paths
        for name, variables in calls:
            send(name, variables)
    timings: dict[str, list[float]] = {name: [] for name, _ in calls} | {"total": []}
    for _ in range(args.rounds):
        total = 0.0
        for name, variables in calls:
            started = time.perf_counter()
            send(name, variables)
            spent = (time.perf_counter() - started) * 1000
            timings[name].append(spent)
            total += spent
        timings["total"].append(total)

    print(f"database: {vendor}; {args.rounds} rounds, Django test Client (no socket), manager's session")
    for name, samples in timings.items():
        median, p90 = quantiles(samples)
        label = "page data load (3 operations in a row)" if name == "total" else name
        print(f"  {label:<40} median {median:7.2f} ms, p90 {p90:7.2f} ms")

    browser = {}
    if args.browser:
        browser = in_browser()
        print(
            f"browser (Chromium, {BROWSER_LOADS} loads of /manager/, median from navigation start): "
            f"first mailing rows {browser['first_rows']:.0f} ms, "
            f"every section ready {browser['all_ready']:.0f} ms"
        )

    load_median, load_p90 = quantiles(timings["total"])
    line = (
        f"queries_n5={queries[('managerMailings', 5)]} queries_n100={queries[('managerMailings', 100)]} "
        f"users_queries_n5={queries[('managerUsers', 5)]} "
        f"users_queries_n100={queries[('managerUsers', 100)]} "
        f"load_ms={load_median:.2f} load_p90_ms={load_p90:.2f} "
    )
    if browser:
        line += (
            f"browser_first_rows_ms={browser['first_rows']:.0f} browser_ready_ms={browser['all_ready']:.0f} "
        )
    print(line + f"mailings={OWNERS * MAILINGS_PER_OWNER} db={vendor}")


def in_browser() -> dict[str, float]:
    """Serve the app from this process (Django's live-server thread, static files from their folders) and
    time /manager/ in Chromium."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    first_rows, all_ready = [], []
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(OBSERVER)
            page = context.new_page()
            page.goto(base + "/accounts/login/")
            page.fill("#id_username", MANAGER_EMAIL)
            page.fill("#id_password", MANAGER_PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(base + "/manager/")
            for _ in range(BROWSER_LOADS + 1):  # the first load warms the browser's cache of the static files
                page.goto(base + "/manager/")
                # Polled from here: wait_for_function evals in the page, which the site's CSP refuses.
                while not page.evaluate("window.__benchMarks && window.__benchMarks.allReady"):
                    page.wait_for_timeout(20)
                marks = page.evaluate("window.__benchMarks")
                first_rows.append(marks["firstRows"])
                all_ready.append(marks["allReady"])
            chromium.close()
    finally:
        server.terminate()
    return {"first_rows": statistics.median(first_rows[1:]), "all_ready": statistics.median(all_ready[1:])}


if __name__ == "__main__":
    main()
