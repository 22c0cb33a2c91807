"""An address that hard-bounced stays bounced when its client is deleted and the address is added again, by
hand or by an import (R-DLV-3), as an unsubscribed address stays unsubscribed; Reactivate clears it."""

import pytest

from backend.mailings import selectors, services
from backend.mailings.bounces import record
from backend.mailings.models import Client, Mailing
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import bounce_domain, return_path, sent_deliveries  # noqa: F401
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("bounce_domain")]


def bounced_and_deleted(kind: str = "hard"):
    (delivery,) = sent_deliveries()
    owner = delivery.mailing.owner
    address = delivery.email
    raw = (
        samples.postfix_dsn(return_path(delivery), address)
        if kind == "hard"
        else samples.arf_complaint(return_path(delivery), address)
    )
    assert record(raw, source="stdin").kind == kind
    services.client_delete(actor=owner, client=Client.objects.get(pk=delivery.client_id))
    return owner, address


def test_an_address_added_again_by_hand_starts_bounced_and_is_not_sent_to(smtp):
    owner, address = bounced_and_deleted()
    again = services.client_create(
        actor=owner, data={"email": address.upper(), "full_name": "Back Again", "comment": ""}
    )
    assert again.bounced_at is not None
    everyone = Mailing(owner=owner, audience=Mailing.Audience.EVERYONE)
    assert not selectors.recipients_of(everyone).filter(pk=again.pk).exists()
    services.client_reactivate(actor=owner, client=again)
    assert selectors.recipients_of(everyone).filter(pk=again.pk).exists()


def test_an_address_added_again_by_an_import_starts_bounced(smtp):
    owner, address = bounced_and_deleted()
    report = services.clients_import_csv(
        actor=owner, data=f"email;full name\n{address};Back Again\nfresh@example.org;Fresh\n".encode()
    )
    assert report.added == 2
    assert Client.objects.get(owner=owner, email=address).bounced_at is not None
    assert Client.objects.get(owner=owner, email="fresh@example.org").bounced_at is None


def test_a_complaint_does_not_mark_bounced_and_another_owners_bounce_does_not_count(smtp):
    owner, address = bounced_and_deleted(kind="complaint")
    again = services.client_create(actor=owner, data={"email": address, "full_name": "A", "comment": ""})
    assert again.bounced_at is None and again.unsubscribed_at is not None  # unsubscribed, not bounced
    _owner, bounced_address = bounced_and_deleted()
    stranger = UserFactory()
    theirs = services.client_create(
        actor=stranger, data={"email": bounced_address, "full_name": "B", "comment": ""}
    )
    assert theirs.bounced_at is None
