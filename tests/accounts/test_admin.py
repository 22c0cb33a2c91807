"""Blocking and unblocking from the Django admin (R-AUTH-5): the action leads to a page that asks
for the reason, then the service blocks and records who, when and why."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from backend.mailings.models import Delivery, Mailing, Occurrence, Unsubscription
from tests.factories import ClientFactory, MailingFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(user)
    return user


def act(client, action, users, **fields):
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [u.pk for u in users], **fields},
        follow=True,
    )


def test_block_action_asks_for_the_reason_first(client, root):
    member = UserFactory(email="member@example.com")
    response = act(client, "block_users", [member])
    assert response.status_code == 200
    assert response.templates[0].name == "admin/accounts/user/block_confirmation.html"
    assert "member@example.com" in response.content.decode()
    assert 'name="reason"' in response.content.decode()
    assert not User.objects.get(pk=member.pk).is_blocked


def test_block_without_a_reason_is_refused_on_the_page(client, root):
    member = UserFactory()
    response = act(client, "block_users", [member], confirm="yes", reason="   ")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert not User.objects.get(pk=member.pk).is_blocked


def test_block_records_who_and_why_through_the_service(client, root):
    member, other_root = UserFactory(), UserFactory(is_superuser=True)
    response = act(client, "block_users", [member, root], confirm="yes", reason="Sends spam")
    page = response.content.decode()
    assert "Blocked 1 user." in page
    assert "cannot block or unblock yourself" in page  # the service's refusal, shown per user
    member.refresh_from_db()
    assert (member.is_blocked, member.blocked_by, member.blocked_reason) == (True, root, "Sends spam")
    assert member.blocked_at is not None
    assert not User.objects.get(pk=root.pk).is_blocked
    assert not User.objects.get(pk=other_root.pk).is_blocked


def test_unblock_confirms_then_clears_the_block(client, root):
    member = UserFactory(is_blocked=True, blocked_reason="old")
    response = act(client, "unblock_users", [member])
    assert response.status_code == 200
    assert User.objects.get(pk=member.pk).is_blocked
    response = act(client, "unblock_users", [member], confirm="yes")
    assert "Unblocked 1 user." in response.content.decode()
    member.refresh_from_db()
    assert (member.is_blocked, member.blocked_reason, member.blocked_by) == (False, "", None)


def test_a_user_with_a_delivery_log_can_be_deleted(client, root):
    """The log is read-only on its own; deleting its owner takes it along."""
    owner = UserFactory()
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, email="x@example.org")
    Unsubscription.objects.create(owner=owner, email="left@example.org")
    response = client.post(reverse("admin:accounts_user_delete", args=[owner.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Mailing.objects.exists() and not Unsubscription.objects.exists()
