"""Reads. Every queryset a user may see starts here (R-AUTH-4, R-AUTH-5).

Owners see their own clients, messages, mailings and logs. A manager (permission `view_all_mailings`)
sees every mailing and its log, read-only, but no one else's client list or messages. A user who cannot act
(anonymous, inactive, blocked) sees nothing.
"""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.services import user_can_act

from .models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence, Unsubscription

VIEW_ALL_MAILINGS = "mailings.view_all_mailings"
DISABLE_MAILING = "mailings.disable_mailing"


def is_manager(user: User) -> bool:
    """An overseer: may view every mailing but, unless a superuser, edits no one's lists or mailings."""
    return user_can_act(user) and not user.is_superuser and user.has_perm(VIEW_ALL_MAILINGS)


def can_view_all_mailings(user: User) -> bool:
    return user_can_act(user) and user.has_perm(VIEW_ALL_MAILINGS)


def clients_for(user: User) -> QuerySet[Client]:
    if not user_can_act(user):
        return Client.objects.none()
    return Client.objects.filter(owner=user)


def messages_for(user: User) -> QuerySet[Message]:
    if not user_can_act(user):
        return Message.objects.none()
    return Message.objects.filter(owner=user)


def mailings_for(user: User) -> QuerySet[Mailing]:
    if not user_can_act(user):
        return Mailing.objects.none()
    queryset = Mailing.objects.select_related("message", "owner")
    if can_view_all_mailings(user):
        return queryset
    return queryset.filter(owner=user)


def occurrences_for(user: User) -> QuerySet[Occurrence]:
    return Occurrence.objects.filter(mailing__in=mailings_for(user).values("pk"))


def deliveries_for(user: User) -> QuerySet[Delivery]:
    return Delivery.objects.filter(mailing__in=mailings_for(user).values("pk")).select_related("mailing")


def attempts_for(user: User) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(delivery__mailing__in=mailings_for(user).values("pk"))


def mailing_get(user: User, pk: int) -> Mailing:
    """One visible mailing; another owner's looks exactly like a missing one (Mailing.DoesNotExist)."""
    return mailings_for(user).get(pk=pk)


def client_get(user: User, pk: int) -> Client:
    return clients_for(user).get(pk=pk)


def message_get(user: User, pk: int) -> Message:
    return messages_for(user).get(pk=pk)


def mailings_with_stats(user: User) -> QuerySet[Mailing]:
    """Visible mailings with delivery counts per status, for lists and reports in one query."""
    return mailings_for(user).annotate(
        clients_count=Count("clients", distinct=True),
        sent_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT), distinct=True),
        failed_count=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED), distinct=True),
        waiting_count=Count(
            "deliveries",
            filter=Q(deliveries__status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]),
            distinct=True,
        ),
    )


# --- what is sent, and to whom (R-SEND-8): the one definition every sending path uses ---------------


def sendable_mailings() -> QuerySet[Mailing]:
    """Mailings that may be sent at all: active (not disabled by a manager), not completed, and owned by a
    user who can act (active, not blocked). The scheduler's start step, the engine's claim before every
    batch, `mailing_send_now` and the dry-run all ask this, so none of them can disagree."""
    return Mailing.objects.filter(is_active=True, owner__is_active=True, owner__is_blocked=False).exclude(
        status=Mailing.Status.COMPLETED
    )


def recipients_of(mailing: Mailing) -> QuerySet[Client]:
    """The clients an occurrence of `mailing` goes to: chosen for it, in its owner's own list (a client
    moved to another owner leaves the mailing), subscribed, and not an address that unsubscribed from this
    owner before (the per-owner list outlives a deleted client)."""
    left = Unsubscription.objects.filter(owner_id=OuterRef("owner_id"), email=Lower(OuterRef("email")))
    return (
        Client.objects.filter(mailings=mailing, owner_id=mailing.owner_id, unsubscribed_at__isnull=True)
        .exclude(Exists(left))
        .order_by("pk")
    )


def due_mailings(now: dt.datetime | None = None) -> QuerySet[Mailing]:
    """Sendable mailings whose next occurrence has come (R-SEND-1, R-SEND-2, R-SEND-8)."""
    now = now or timezone.now()
    return sendable_mailings().filter(next_run_at__isnull=False, next_run_at__lte=now)
