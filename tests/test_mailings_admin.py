"""A superuser builds a mailing in the Django admin and sees its next occurrences (issue 3, done-when)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from backend.mailings.models import Mailing
from tests.factories import ClientFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = UserFactory(is_superuser=True, is_staff=True, time_zone="Europe/Moscow")
    client.force_login(admin)
    return client


def admin_form(owner, message, clients, start, end, periodicity="daily", tz="Europe/Moscow"):
    return {
        "owner": owner.pk,
        "message": message.pk,
        "clients": [c.pk for c in clients],
        "start_at_0": start.strftime("%Y-%m-%d"),
        "start_at_1": start.strftime("%H:%M:%S"),
        "end_at_0": end.strftime("%Y-%m-%d"),
        "end_at_1": end.strftime("%H:%M:%S"),
        "periodicity": periodicity,
        "time_zone": tz,
        "is_active": "on",
    }


def test_superuser_builds_a_mailing_and_sees_next_occurrences(admin_client):
    owner = UserFactory(time_zone="Europe/Moscow")
    message, client_obj = MessageFactory(owner=owner), ClientFactory(owner=owner)
    # The admin reads times in the signed-in superuser's zone (Moscow here).
    moscow = timezone.localtime(timezone=ZoneInfo("Europe/Moscow"))
    start = (moscow + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    response = admin_client.post(
        reverse("admin:mailings_mailing_add"),
        admin_form(owner, message, [client_obj], start, start + dt.timedelta(days=10)),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    mailing = Mailing.objects.get()
    assert mailing.next_run_at == start
    page = admin_client.get(reverse("admin:mailings_mailing_change", args=[mailing.pk])).content.decode()
    assert page.count("09:00 MSK") == 5


def test_admin_refuses_a_message_or_clients_of_another_owner(admin_client):
    owner, other = UserFactory(), UserFactory()
    start = timezone.now() + dt.timedelta(days=1)
    response = admin_client.post(
        reverse("admin:mailings_mailing_add"),
        admin_form(
            owner,
            MessageFactory(owner=other),
            [ClientFactory(owner=other)],
            start,
            start + dt.timedelta(days=1),
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"message", "clients"}
    assert not Mailing.objects.exists()


def test_log_is_read_only_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:mailings_delivery_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:mailings_deliveryattempt_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:mailings_delivery_add")).status_code == 403
