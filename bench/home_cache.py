"""What the caches buy on the home page and an article page (R-CACHE-1).

    python bench/home_cache.py [--seconds S]

Seeds 1,000 mailings, 10,000 clients and 30 articles with images in the database DATABASE_URL selects
(default: a throw-away SQLite file var/bench_home.sqlite3), then, in one process through Django's test
client, measures requests per second and SQL queries per request for `/` and for one article, with the
configured cache (warm) and with caching switched off (Django's DummyCache). Prints the figures; the last
line is machine-readable. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402

BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/150.0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per case (default 3)")
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive")

    production_mode()
    os.environ["ALLOWED_HOSTS"] = "testserver"
    if not os.environ.get("DATABASE_URL"):
        db_file = ROOT / "var" / "bench_home.sqlite3"
        db_file.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db_file}"
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="mailer-bench-media-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    call_command("migrate", verbosity=0)
    owners, article = seed()
    print(f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")

    # No manifest in a bench run: serve static names as they are.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client = Client(**BROWSER)
    results = {}
    with override_settings(STORAGES=storages):
        for mode in ("cached", "uncached"):
            caches = (
                settings.CACHES
                if mode == "cached"
                else {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
            )
            with override_settings(CACHES=caches):
                cache.clear()
                for name, url in (("home", "/"), ("article", article.url)):
                    client.get(url)  # warm up (and fill the cache in the cached mode)
                    with CaptureQueriesContext(connection) as queries:
                        assert client.get(url).status_code == 200
                    query_count = len(queries)  # now: later requests reset the connection's query log
                    count, started = 0, time.perf_counter()
                    while time.perf_counter() - started < args.seconds:
                        client.get(url)
                        count += 1
                    rps = count / (time.perf_counter() - started)
                    results[(name, mode)] = (rps, query_count)
                    print(f"{name:8s} {mode:9s} {rps:8.0f} req/s  {query_count:3d} SQL queries per request")
    home = results[("home", "cached")][0] / results[("home", "uncached")][0]
    art = results[("article", "cached")][0] / results[("article", "uncached")][0]
    print(f"home page: {home:.1f}x faster cached; article page: {art:.1f}x faster cached")
    print(
        f"home_speedup={home:.1f} home_queries_warm={results[('home', 'cached')][1]} "
        f"article_speedup={art:.1f} article_queries_warm={results[('article', 'cached')][1]} "
        f"home_queries_cold={results[('home', 'uncached')][1]} db={connection.vendor}"
    )
    for owner in owners:
        owner.delete()


def seed():
    import io

    from django.core.files.images import ImageFile
    from django.utils import timezone
    from PIL import Image as PILImage
    from wagtail.images.models import Image

    from backend.accounts.models import User
    from backend.mailings.models import Client, Mailing, Message
    from cms.models import ArticlePage, BlogIndexPage

    started = time.perf_counter()
    stamp = time.time_ns()
    owners = [
        User.objects.create_user(f"bench{n}-{stamp}@example.com", "bench-password-1") for n in range(10)
    ]
    now = timezone.now()
    clients, mailings = [], []
    for owner in owners:
        clients += Client.objects.bulk_create(
            [
                Client(owner=owner, email=f"c{n}@o{owner.pk}.example.org", full_name=f"C {n}")
                for n in range(1000)
            ]
        )
        message = Message.objects.create(owner=owner, subject="News", body="Hello")
        mailings += Mailing.objects.bulk_create(
            [
                Mailing(
                    owner=owner,
                    message=message,
                    start_at=now,
                    end_at=now + timezone.timedelta(days=30),
                    status=Mailing.Status.STARTED if n % 3 else Mailing.Status.CREATED,
                )
                for n in range(100)
            ]
        )
    through = Mailing.clients.through
    by_owner: dict[int, list] = {}
    for client in clients:
        by_owner.setdefault(client.owner_id, []).append(client)
    rows = []
    for index, mailing in enumerate(mailings):
        pool = by_owner[mailing.owner_id]
        rows += [
            through(mailing_id=mailing.pk, client_id=pool[(index * 10 + k) % len(pool)].pk) for k in range(10)
        ]
    through.objects.bulk_create(rows, batch_size=5000)

    blog = BlogIndexPage.objects.get()
    article = None
    for n in range(30):
        buffer = io.BytesIO()
        PILImage.new("RGB", (1200, 675), (n * 8 % 255, 120, 160)).save(buffer, "JPEG")
        image = Image.objects.create(title=f"bench {n}", file=ImageFile(buffer, name=f"bench{n}.jpg"))
        article = ArticlePage(
            title=f"Bench article {n} {stamp}",
            intro="Why warm-up mailings keep customers.",
            main_image=image,
            body=[("heading", "Why")]
            + [("paragraph", "<p>" + "Mailing keeps clients warm. " * 40 + "</p>")] * 6,
        )
        blog.add_child(instance=article)
        article.save_revision().publish()
    print(f"seeded 1,000 mailings, 10,000 clients and 30 articles in {time.perf_counter() - started:.1f} s")
    return owners, article


if __name__ == "__main__":
    main()
