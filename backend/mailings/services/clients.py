"""Writes on clients: create, edit, delete (the owner's own list), the recipient's unsubscribe, and the
owner's reactivation of a bounced client."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from backend.accounts.models import User

from .. import bulk, selectors
from ..forms import ClientForm
from ..models import Client, Suppression, Unsubscription
from .base import owner_for_create, require_can_edit, validated


def client_create(*, actor: User, data: dict, owner: User | None = None) -> Client:
    owner = owner_for_create(actor, owner)
    form = validated(ClientForm(data=data, owner=owner))
    with transaction.atomic():
        client = form.save(commit=False)
        # An address that unsubscribed from this owner stays unsubscribed when it is added again.
        left = Unsubscription.objects.filter(owner=owner, email=client.email.lower()).first()
        if left is not None:
            client.unsubscribed_at = left.created_at
        # And an address that hard-bounced stays bounced until the owner reactivates it (R-DLV-3).
        bounced = selectors.hard_bounced_addresses(owner.pk, [client.email.lower()])
        client.bounced_at = bounced.get(client.email.lower())
        client.save()
        _forget_erasure(form)
        return client


def client_update(*, actor: User, client: Client, data: dict) -> Client:
    """The owner's edit (the client form, `updateClient`, the admin). A bounced client whose address is
    corrected is a recipient again (R-DLV-3): the bounce was about the old address."""
    require_can_edit(actor, client)
    old_email = client.email
    form = validated(ClientForm(data=data, instance=client, owner=client.owner))
    with transaction.atomic():
        client = form.save(commit=False)
        if client.bounced_at is not None and client.email.lower() != old_email.lower():
            client.bounced_at = None
        client.save()
        form.save_m2m()
        _forget_erasure(form)
        return client


def _forget_erasure(form: ClientForm) -> None:
    """The owner ticked "The person asked to be added again" (R-ENG-4): the erased address's hash goes, so
    imports and sign-up forms treat the address like any other again."""
    if form.cleaned_data.get("readd"):
        Suppression.objects.filter(
            owner=form.owner, email_hash=selectors.email_hash(form.cleaned_data["email"])
        ).delete()


def client_delete(*, actor: User, client: Client) -> None:
    require_can_edit(actor, client)
    with transaction.atomic():
        # Deliveries keep the address (SET_NULL + email copy), so reports survive the deletion.
        client.delete()


def client_unsubscribe(*, client: Client) -> Client:
    """The recipient's own choice, through the signed link in every message: idempotent. No actor: the
    signed link is the recipient's authority (unsubscribe.py checks it before this runs)."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.unsubscribed_at is None:
            client.unsubscribed_at = timezone.now()
            client.save(update_fields=["unsubscribed_at"])
        address_unsubscribe(owner_id=client.owner_id, email=client.email)
    return client


def address_unsubscribe(*, owner_id: int, email: str) -> None:
    """Put an address on its owner's unsubscribe list (the recipient's choice, or their complaint: R-DLV-4),
    also when no client carries it any more, so adding it again cannot undo the choice. No actor: called by
    `client_unsubscribe` and the bounce reader, whose authority is the recipient's own mail."""
    Unsubscription.objects.get_or_create(owner_id=owner_id, email=email.lower())


def client_reactivate(*, actor: User, client: Client) -> Client:
    """The owner sends to a bounced client again (R-DLV-3): the mark goes, and a bounce about a message sent
    before now (one still in flight, or a late report) does not set it again (bounces/process.py)."""
    require_can_edit(actor, client)
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        client.bounced_at = None
        client.reactivated_at = timezone.now()
        client.save(update_fields=["bounced_at", "reactivated_at"])
    return client


# --- bulk actions on the ticked clients or every client matching a search (R-OWN-3) ---------------------
# Each takes a queryset (ticked ids or the list's filtered queryset), keeps only the actor's own clients of
# it, and runs a fixed number of statements whatever the count: undoing a wrong import is one action.


def _own(actor: User, clients: QuerySet[Client]) -> QuerySet[Client]:
    require_can_edit(actor)
    return Client.objects.filter(owner_id=actor.pk, pk__in=clients.order_by().values("pk"))


def clients_delete(*, actor: User, clients: QuerySet[Client]) -> int:
    """Delete the actor's clients among `clients`, as `client_delete` does each (reports keep the address).
    Returns how many were deleted."""
    with transaction.atomic():
        return bulk.delete(_own(actor, clients))


def clients_unsubscribe(*, actor: User, clients: QuerySet[Client]) -> int:
    """The owner stops mailing the actor's clients among `clients`: nothing is sent to them until the owner
    re-subscribes them. Not the person's own choice, so it goes on no unsubscribe list. Returns how many
    were subscribed before."""
    with transaction.atomic():
        subscribed = _own(actor, clients).filter(unsubscribed_at__isnull=True)
        return subscribed.update(unsubscribed_at=timezone.now())


@dataclass(frozen=True)
class Resubscribed:
    resubscribed: int
    # Unsubscribed by their own choice (the link, the preferences page, a complaint): not the owner's to undo.
    kept: int


def clients_resubscribe(*, actor: User, clients: QuerySet[Client]) -> Resubscribed:
    """Subscribe again the actor's clients among `clients` that the owner had unsubscribed. A client whose
    address unsubscribed by the person's own choice stays unsubscribed: only the person can undo that (by
    subscribing again through a sign-up form)."""
    with transaction.atomic():
        unsubscribed = _own(actor, clients).filter(unsubscribed_at__isnull=False)
        own_choice = Exists(
            Unsubscription.objects.filter(owner_id=OuterRef("owner_id"), email=Lower(OuterRef("email")))
        )
        kept = unsubscribed.filter(own_choice).count()
        done = unsubscribed.exclude(own_choice).update(unsubscribed_at=None)
        return Resubscribed(resubscribed=done, kept=kept)
