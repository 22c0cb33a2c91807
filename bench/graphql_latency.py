"""What GraphQL costs over the cheapest Django view that returns the same data.

    python bench/graphql_latency.py [--rounds R] [--profile] [--sql] [--db-label LABEL]

Seeds one owner with 1,000 mailings (20 clients and 40 deliveries each: two occurrences of 20) into a fresh
database: a throw-away SQLite file var/bench_graphql.sqlite3 by default; with DATABASE_URL pointing at a
PostgreSQL server, a new database `mailer_bench_graphql_<pid>` on that server, dropped at the end. Then, in
one process through Django's test Client (the whole middleware stack and URL routing, no socket), it times
R rounds, interleaved, of:
  - graphql: POST /graphql/ with a JWT and the query
    `mailings(first: 50) { edges { node { message { subject } clients { totalCount }
     lastOccurrence { sent failed } } } }`;
  - floor: GET /bench-floor/ with the same JWT, a hand-written JSON view (defined here, routed only in this
    script) that authenticates the token the same way and returns exactly the same fields for the same 50
    mailings with one `.values()` query with annotations.
It checks that both return the same data, prints the median and p90 of each, their ratio and the SQL
queries of the GraphQL request for N = 5 and N = 100; the last line is machine-readable. `--profile` adds a
cProfile of the GraphQL requests. It prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402
from bench.support.throwaway_db import fresh_database  # noqa: E402

MAILINGS = 1000
CLIENTS_PER_MAILING = 20
CLIENT_POOL = 2000
OCCURRENCES_PER_MAILING = 2
PAGE = 50

QUERY = """query Bench($first: Int!) {
  mailings(first: $first) {
    edges { node { message { subject } clients { totalCount } lastOccurrence { sent failed } } }
  }
}"""


# --- the database -------------------------------------------------------------------------------------------


def seed():
    import datetime as dt

    from django.utils import timezone

    from backend.accounts.models import User
    from backend.mailings.models import Client, Delivery, Mailing, Message, Occurrence

    started = time.perf_counter()
    owner = User.objects.create_user(
        "bench-owner@example.com", "bench-password-1", is_active=True, email_verified=True
    )
    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(owner=owner, email=f"reader{n}@example.org", full_name=f"Reader {n}")
            for n in range(CLIENT_POOL)
        ],
        batch_size=2000,
    )
    messages = Message.objects.bulk_create(
        [
            Message(owner=owner, subject=f"Autumn news #{n}", body="Hello {full_name}")
            for n in range(MAILINGS)
        ],
        batch_size=2000,
    )
    mailings = Mailing.objects.bulk_create(
        [
            Mailing(
                owner=owner,
                message=messages[n],
                start_at=now - dt.timedelta(days=2),
                end_at=now + dt.timedelta(days=30),
                periodicity=Mailing.Periodicity.DAILY,
                status=Mailing.Status.STARTED,
            )
            for n in range(MAILINGS)
        ],
        batch_size=2000,
    )
    through = Mailing.clients.through
    chosen = {
        mailing.pk: [
            clients[(index * CLIENTS_PER_MAILING + k) % CLIENT_POOL] for k in range(CLIENTS_PER_MAILING)
        ]
        for index, mailing in enumerate(mailings)
    }
    through.objects.bulk_create(
        [through(mailing_id=pk, client_id=client.pk) for pk, picked in chosen.items() for client in picked],
        batch_size=5000,
    )
    occurrences = Occurrence.objects.bulk_create(
        [
            Occurrence(mailing=mailing, scheduled_for=now - dt.timedelta(days=day))
            for mailing in mailings
            for day in range(OCCURRENCES_PER_MAILING)
        ],
        batch_size=2000,
    )
    statuses = ("sent", "sent", "sent", "failed", "sent", "retrying", "sent", "pending", "skipped")
    deliveries = []
    for index, occurrence in enumerate(occurrences):
        for k, client in enumerate(chosen[occurrence.mailing_id]):
            status = statuses[(index + k) % len(statuses)]
            deliveries.append(
                Delivery(
                    mailing_id=occurrence.mailing_id,
                    occurrence=occurrence,
                    client=client,
                    email=client.email,
                    status=status,
                    attempts=0 if status in ("pending", "skipped") else 1,
                )
            )
    Delivery.objects.bulk_create(deliveries, batch_size=5000)
    print(
        f"seeded {MAILINGS:,} mailings, {CLIENT_POOL:,} clients ({CLIENTS_PER_MAILING} per mailing), "
        f"{len(occurrences):,} occurrences and {len(deliveries):,} deliveries "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return owner


# --- the floor: the same data from a plain Django view ---------------------------------------------------


def floor_view(request):
    """The same fields as the GraphQL query, from one `.values()` query with annotations."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce
    from django.http import HttpResponse, JsonResponse
    from graphql_jwt.exceptions import JSONWebTokenError

    from backend.api.core.auth import user_for_token
    from backend.mailings.models import Delivery, Mailing, Occurrence

    _prefix, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    try:
        user = user_for_token(token.strip())
    except JSONWebTokenError as exc:
        return JsonResponse({"error": str(exc)}, status=401)
    first = int(request.GET.get("first", PAGE))

    def counted(queryset, key: str):
        return Coalesce(
            Subquery(queryset.order_by().values(key).annotate(n=Count("pk")).values("n"), IntegerField()), 0
        )

    through = Mailing.clients.through
    last = (
        Occurrence.objects.filter(mailing_id=OuterRef("pk"))
        .order_by("-scheduled_for", "-pk")
        .values("pk")[:1]
    )
    per_status = {
        status: counted(
            Delivery.objects.filter(occurrence_id=OuterRef("last_id"), status=status), "occurrence_id"
        )
        for status in ("sent", "failed")
    }
    rows = (
        Mailing.objects.filter(owner=user)
        .order_by("-created_at", "-pk")
        .annotate(
            clients_total=counted(through.objects.filter(mailing_id=OuterRef("pk")), "mailing_id"),
            last_id=Subquery(last),
        )
        .annotate(**per_status)
        .values_list("message__subject", "clients_total", "last_id", "sent", "failed")[:first]
    )
    edges = [
        {
            "node": {
                "message": {"subject": subject},
                "clients": {"totalCount": clients_total},
                "lastOccurrence": None if last_id is None else {"sent": sent, "failed": failed},
            }
        }
        for subject, clients_total, last_id, sent, failed in rows
    ]
    body = json.dumps({"data": {"mailings": {"edges": edges}}}, separators=(",", ":"))
    return HttpResponse(body, content_type="application/json")


def install_floor_route() -> None:
    from django.urls import path

    from backend import urls

    module = types.ModuleType("bench_graphql_urls")
    module.urlpatterns = [path("bench-floor/", floor_view), *urls.urlpatterns]
    sys.modules[module.__name__] = module


# --- measuring ----------------------------------------------------------------------------------------------


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="timed requests of each kind (default 300)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the GraphQL requests")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one GraphQL request")
    parser.add_argument(
        "--db-label",
        default="graphql",
        help="names the throw-away database (mailer_bench_<label>_<pid> on PostgreSQL; default graphql)",
    )
    args = parser.parse_args()
    if args.rounds < 10:
        parser.error("--rounds must be at least 10")

    production_mode()
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["JWT_ACCESS_TOKEN_SECONDS"] = str(3600)  # outlives the run
    vendor, drop = fresh_database(args.db_label)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    try:
        run(args, vendor)
    finally:
        drop()


def run(args, vendor: str) -> None:
    import warnings

    import django

    # Whitenoise warns that collectstatic has not run; the bench serves no static file.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from graphql_jwt.utils import jwt_encode

    from backend.api.core.auth import jwt_payload

    call_command("migrate", verbosity=0)
    owner = seed()
    install_floor_route()
    auth = {"HTTP_AUTHORIZATION": f"JWT {jwt_encode(jwt_payload(owner))}"}
    client = Client()

    def graphql(first: int = PAGE):
        body = json.dumps({"query": QUERY, "variables": {"first": first}})
        response = client.post("/graphql/", body, content_type="application/json", **auth)
        assert response.status_code == 200, response.content[:500]
        return response.json()

    def floor(first: int = PAGE):
        response = client.get("/bench-floor/", {"first": first}, **auth)
        assert response.status_code == 200, response.content[:500]
        return response.json()

    with override_settings(ROOT_URLCONF="bench_graphql_urls"):
        for first in (5, PAGE, 100):
            answer, expected = graphql(first), floor(first)
            assert "errors" not in answer, answer["errors"]
            if answer != expected:
                sys.exit(f"GraphQL and the floor view disagree for first={first}")
        print(f"both return the same {PAGE} mailings (checked for first=5, {PAGE}, 100)")

        queries = {}
        for name, call in (("graphql", graphql), ("floor", floor)):
            for first in (5, 100):
                with CaptureQueriesContext(connection) as captured:
                    call(first)
                queries[(name, first)] = len(captured)
                if args.sql and first == 5:
                    print(f"--- SQL of one {name} request (first: 5) ---")
                    for number, query in enumerate(captured.captured_queries, 1):
                        print(f"{number}. {query['sql'][:400]}")
        print(
            "SQL queries per request: "
            + "; ".join(f"{name} N={first}: {count}" for (name, first), count in queries.items())
        )

        for _ in range(20):  # warm-up: caches, connections, code paths
            graphql()
            floor()
        timings: dict[str, list[float]] = {"graphql": [], "floor": []}
        in_database: dict[str, list[float]] = {"graphql": [], "floor": []}
        spent = [0.0]

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent[0] += time.perf_counter() - started

        for round_ in range(args.rounds):
            order = (("graphql", graphql), ("floor", floor))
            for name, call in order if round_ % 2 == 0 else order[::-1]:
                spent[0] = 0.0
                with connection.execute_wrapper(timed):
                    started = time.perf_counter()
                    call()
                    timings[name].append((time.perf_counter() - started) * 1000)
                in_database[name].append(spent[0] * 1000)

        if args.profile:
            import gc

            gc.disable()  # a collection lands on whichever call allocates, and blurs the own-time column
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.rounds):
                graphql()
            profiler.disable()
            gc.enable()
            stats = pstats.Stats(profiler).strip_dirs()
            print(f"\n--- cProfile of {args.rounds} GraphQL requests, by own time ---")
            stats.sort_stats("tottime").print_stats(25)
            print("--- by cumulative time ---")
            stats.sort_stats("cumulative").print_stats(40)

    g_median, g_p90 = quantiles(timings["graphql"])
    f_median, f_p90 = quantiles(timings["floor"])
    ratio = g_median / f_median
    print(f"database: {vendor}; {args.rounds} rounds, interleaved, Django test Client (no socket)")
    g_db, f_db = statistics.median(in_database["graphql"]), statistics.median(in_database["floor"])
    print(
        f"graphql /graphql/ mailings(first: {PAGE}): median {g_median:.2f} ms, p90 {g_p90:.2f} ms "
        f"(in the database: {g_db:.2f} ms)"
    )
    print(
        f"floor   JSON view, same data:          median {f_median:.2f} ms, p90 {f_p90:.2f} ms "
        f"(in the database: {f_db:.2f} ms)"
    )
    print(f"ratio (medians): {ratio:.2f}  (target <= 3.5, goal <= 2.5)")
    print(
        f"ratio={ratio:.2f} graphql_ms={g_median:.2f} floor_ms={f_median:.2f} "
        f"queries_n5={queries[('graphql', 5)]} queries_n100={queries[('graphql', 100)]} db={vendor}"
    )


if __name__ == "__main__":
    main()
