"""The delivery log's retention (R-DATA-4): the per-recipient rows (deliveries and their attempts) of sends
finished more than DELIVERY_LOG_DAYS ago are deleted; the sends keep their counts (`Occurrence`'s totals,
frozen when they finished), which reports and dashboards read.

A domain step the scheduler's daily clean-up runs, not a service: no actor. It deletes in batches, each in a
transaction of its own, so no statement holds many locks for long and the sender's statements never wait
behind it; it only reads occurrences that are finished with frozen totals, and marks each one purged first,
so a pass cannot start it again (`occurrences._start`) while its rows go. Several schedulers may run it at
once: the batches are idempotent and the mark is a conditional update.

The same daily job empties the raw mail of bounces older than BOUNCE_RAW_DAYS (`purge_bounce_raw`, R-DLV-3).
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import Bounce, Delivery, DeliveryAttempt, Occurrence

logger = logging.getLogger(__name__)

BATCH = 5_000


def expired_occurrences(now: dt.datetime, days: int) -> QuerySet[Occurrence]:
    """Finished occurrences with frozen totals, finished more than `days` ago, whose log is not all gone."""
    left = Delivery.objects.filter(occurrence_id=OuterRef("pk"))
    return (
        Occurrence.objects.filter(finished_at__lt=now - dt.timedelta(days=days), sent_total__isnull=False)
        .filter(Q(log_purged_at__isnull=True) | Exists(left))
        .order_by("finished_at", "pk")
    )


def purge_delivery_log(
    *, now: dt.datetime | None = None, days: int | None = None, batch: int = BATCH, stop=None
) -> int:
    """Delete the deliveries and attempts of occurrences finished more than `days` (DELIVERY_LOG_DAYS)
    ago, `batch` deliveries per transaction; returns how many deliveries went. 0 days keeps everything.
    `stop` (a StopRequest) ends it between batches: the next run carries on."""
    now = now or timezone.now()
    days = settings.DELIVERY_LOG_DAYS if days is None else days
    if days <= 0:
        return 0
    deleted = 0
    cutoff = now - dt.timedelta(days=days)
    for occurrence_id in list(expired_occurrences(now, days).values_list("pk", flat=True)):
        # Marked first, under the occurrence's row lock (the one "retry failed" takes): from now on neither a
        # pass nor a retry reopens it (its recipients would get it twice, its totals be counted from what is
        # left). Re-checked under the lock: it may have been retried and finished again since it was listed.
        with transaction.atomic():
            expired = (
                Occurrence.objects.select_for_update()
                .filter(pk=occurrence_id, finished_at__lt=cutoff, sent_total__isnull=False)
                .first()
            )
            if expired is None:
                continue
            if expired.log_purged_at is None:
                Occurrence.objects.filter(pk=occurrence_id).update(log_purged_at=now)
        while stop is None or not stop.is_set():
            with transaction.atomic():
                still = Occurrence.objects.select_for_update().filter(
                    pk=occurrence_id, finished_at__isnull=False, log_purged_at__isnull=False
                )
                if not still.exists():
                    break
                ids = list(
                    Delivery.objects.filter(occurrence_id=occurrence_id)
                    .order_by()
                    .values_list("pk", flat=True)[:batch]
                )
                if not ids:
                    break
                DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
                # The attempts are gone: one DELETE, without Django loading the rows to cascade.
                deleted += Delivery.objects.filter(pk__in=ids)._raw_delete(Delivery.objects.db)
        if stop is not None and stop.is_set():
            break
    if deleted:
        logger.info("delivery log: %d deliveries of sends finished over %d days ago deleted", deleted, days)
    return deleted


def purge_bounce_raw(*, now: dt.datetime | None = None, days: int | None = None, batch: int = BATCH) -> int:
    """Empty the raw mail of bounces received more than `days` (BOUNCE_RAW_DAYS) ago, `batch` rows per
    statement, and note when (R-DLV-3): the row — kind, address, reason, status — stays. Not of unclassified
    ones: those wait for a person. 0 days keeps
    everything. Returns how many were emptied; idempotent, any number of processes at once."""
    now = now or timezone.now()
    days = settings.BOUNCE_RAW_DAYS if days is None else days
    if days <= 0:
        return 0
    # Unclassified mails (not understood, unmatched, delay warnings) are kept whole for a person to read.
    expired = Bounce.objects.filter(
        received_at__lt=now - dt.timedelta(days=days), raw_purged_at__isnull=True
    ).exclude(kind=Bounce.Kind.UNCLASSIFIED)
    purged = 0
    while True:
        ids = list(expired.order_by("received_at", "pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        purged += Bounce.objects.filter(pk__in=ids, raw_purged_at__isnull=True).update(
            raw=b"", raw_purged_at=now
        )
    if purged:
        logger.info("bounces: the raw mail of %d bounces over %d days old deleted", purged, days)
    return purged
