"""The home page's live counts (R-HOME-1), through the low-level cache API (R-CACHE-1).

They change only when mailings or clients change, and then the domain's signals delete the key at once;
the short TTL is a safety net for writes that bypass the ORM.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db.models.functions import Lower

from backend.mailings.models import Client, Mailing

STATS_KEY = "home:stats:v1"  # the suffix is the stored format's version
STATS_TTL = 60


def home_stats() -> dict[str, int]:
    stats = cache.get(STATS_KEY)
    if stats is None:
        stats = compute_home_stats()
        cache.set(STATS_KEY, stats, STATS_TTL)
    return stats


def compute_home_stats() -> dict[str, int]:
    return {
        "mailings": Mailing.objects.count(),
        "active_mailings": Mailing.objects.filter(Mailing.ACTIVE).count(),
        # People reached, not rows: the same address in two owners' lists counts once, in any letter case.
        "unique_clients": Client.objects.filter(mailings__isnull=False)
        .annotate(address=Lower("email"))
        .values("address")
        .distinct()
        .count(),
    }


def invalidate_home_stats(**kwargs) -> None:
    cache.delete(STATS_KEY)
