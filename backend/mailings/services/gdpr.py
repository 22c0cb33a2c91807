"""Erasing a person at their request (R-ENG-4): every row that names them goes, in one transaction, and
only a hash of the address stays (`Suppression`), so a later import or form does not add them again without
the owner saying so. What is erased and what is kept, and why: docs/gdpr.md."""

import logging
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from backend.accounts.models import User

from .. import bulk, gdpr, selectors
from ..models import Client, ClientImport, DeliveryAttempt, EngagementEvent, Suppression
from .base import require_can_edit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    """What an erasure deleted."""

    client_id: int
    deliveries: int
    attempts: int
    events: int
    bounces: int
    consents: int
    unsubscriptions: int
    import_rows: int


def _raw_delete(queryset: models.QuerySet) -> int:
    """One DELETE ... WHERE ... whatever the number of rows, for a table nothing points at (Django's
    `delete()` would load the rows to follow their relations)."""
    return queryset._raw_delete(queryset.db)


def _delete_deliveries(deliveries: models.QuerySet) -> tuple[int, int, int]:
    """The deliveries, their attempts and events, and whatever else points at a delivery: a statement per
    table (`bulk.delete`, which follows every relation as Django's collector would). Events are deleted here:
    they keep no database link to their delivery, so that the delivery log's purge leaves a report's figures.
    Returns the deliveries, attempts and events deleted."""
    ids = deliveries.values("pk")
    attempts = DeliveryAttempt.objects.filter(delivery__in=ids).count()
    events = _raw_delete(EngagementEvent.objects.filter(delivery__in=ids))
    return bulk.delete(deliveries), attempts, events


def _forget_in_import_problems(owner_id: int, address: str) -> int:
    """The first rows to look at that background imports keep in the database name addresses: the
    person's go. The per-row report files are left as they are (docs/gdpr.md)."""
    removed = 0
    jobs = ClientImport.objects.filter(owner_id=owner_id).exclude(problems=[]).only("pk", "problems")
    for job in jobs.iterator():
        kept = [row for row in job.problems if str(row[1]).strip().lower() != address]
        if len(kept) != len(job.problems):
            removed += len(job.problems) - len(kept)
            ClientImport.objects.filter(pk=job.pk).update(problems=kept)
    return removed


def client_erase(*, actor: User, client: Client) -> Erasure:
    """Erase the client and everything that names them in the owner's data (R-ENG-4): their tags,
    consents, deliveries (theirs and the owner's others to the same address), attempts, opens and clicks,
    bounces and complaints, the unsubscription, their rows in imports' kept problems; then keep a
    `Suppression` with the address's hash. One transaction; a statement or a few per table whatever the
    number of rows.

    Counts stay honest: a finished occurrence's totals were frozen when it finished and are not touched. A
    delivery still pending goes like the rest (nobody is sent it); one a sender is sending at that moment is
    sent once, and its answer finds no row to record (the engine logs it as taken over and goes on)."""
    require_can_edit(actor, client)
    with transaction.atomic():
        # Locked: two erasures of one client run one after the other; the second finds no client.
        client = Client.objects.select_for_update().get(pk=client.pk)
        owner_id, address = client.owner_id, gdpr.address_of(client)
        bounces = _raw_delete(gdpr.person_bounces(client))
        consents = _raw_delete(gdpr.person_consents(client))
        unsubscriptions = _raw_delete(gdpr.person_unsubscription(client))
        deliveries, attempts, events = _delete_deliveries(gdpr.person_deliveries(client))
        import_rows = _forget_in_import_problems(owner_id, address)
        client_id = client.pk
        # The admin's change history names the client ("Full Name <address>") in its text.
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Client), object_id=str(client_id)
        ).delete()
        # Its tags and its places among mailings' chosen clients go with it.
        client.delete()
        Suppression.objects.get_or_create(owner_id=owner_id, email_hash=selectors.email_hash(address))
    erasure = Erasure(
        client_id, deliveries, attempts, events, bounces, consents, unsubscriptions, import_rows
    )
    # The address is never logged: the log outlives the erasure.
    logger.info(
        "client %s of user %s erased at the person's request by user %s: %d deliveries, %d attempts, "
        "%d opens and clicks, %d bounces, %d consents, %d unsubscriptions, %d import report rows",
        client_id,
        owner_id,
        actor.pk,
        deliveries,
        attempts,
        events,
        bounces,
        consents,
        unsubscriptions,
        import_rows,
        extra={"client_id": client_id, "owner_id": owner_id, "actor_id": actor.pk},
    )
    return erasure
