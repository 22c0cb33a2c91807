"""Writes on clients: create, edit, delete (the owner's own list), the recipient's unsubscribe, and the
owner's reactivation of a bounced client."""

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User

from .. import selectors
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
