"""The Django admin is a thin adapter: a superuser builds clients, messages and mailings with the
domain forms, saves through the services and sees the domain's messages; the delivery log is read-only."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from backend.mailings import services
from backend.mailings.models import (
    Client,
    Delivery,
    DeliveryAttempt,
    Mailing,
    Message,
    Occurrence,
    Unsubscription,
)
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def root():
    return UserFactory(is_superuser=True, is_staff=True, time_zone="Asia/Tokyo")


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def local(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def mailing_data(message, clients, start, end, periodicity="daily", active=True):
    data = {
        "message": message.pk,
        "clients": [c.pk for c in clients],
        "start_at": local(start),
        "end_at": local(end),
        "periodicity": periodicity,
    }
    if active:
        data["is_active"] = "on"
    return data


def add_url(model: str, owner) -> str:
    return reverse(f"admin:mailings_{model}_add") + f"?owner={owner.pk}"


def form_errors(response) -> dict:
    assert response.status_code == 200, response
    return {
        field: [str(e) for e in errors] for field, errors in response.context["adminform"].form.errors.items()
    }


# --- creating for an owner ------------------------------------------------------------------------


def test_a_new_client_shows_no_made_up_unsubscribe_token(admin_client):
    """Found in the fresh-clone check: the add form showed a random token that changed on every render."""
    response = admin_client.get(add_url("client", UserFactory()))
    assert response.status_code == 200
    assert "unsubscribe_token" not in response.context["adminform"].form.fields
    assert "Unsubscribe token" not in response.content.decode()


def test_an_attempt_is_titled_with_its_own_outcome(log):
    """An attempt's title says what happened to it ("temporary failure 451"), in the words
    the outcome column uses."""
    attempt = DeliveryAttempt.objects.get(smtp_code=451)
    assert str(attempt).endswith("temporary failure 451")


def test_add_asks_for_the_owner_first(admin_client):
    """The domain form needs its owner, so "add" starts on an intermediate page."""
    response = admin_client.get(reverse("admin:mailings_mailing_add"))
    assert response.status_code == 200
    assert response.templates[0].name == "admin/owner_choice.html"
    response = admin_client.get(reverse("admin:mailings_client_add"), {"owner": "999999"})
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors


def test_superuser_builds_a_mailing_for_an_owner_and_sees_next_occurrences(admin_client, root):
    """Times are read and shown in the owner's zone (Moscow), not the superuser's (Tokyo)."""
    owner = UserFactory(time_zone="Europe/Moscow")
    message, client_obj = MessageFactory(owner=owner), ClientFactory(owner=owner)
    moscow = timezone.localtime(timezone=MOSCOW)
    start = (moscow + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    response = admin_client.post(
        add_url("mailing", owner), mailing_data(message, [client_obj], start, start + dt.timedelta(days=10))
    )
    assert response.status_code == 302, form_errors(response)
    mailing = Mailing.objects.get()
    assert (mailing.owner, mailing.time_zone, mailing.next_run_at) == (owner, "Europe/Moscow", start)
    assert set(mailing.clients.all()) == {client_obj}
    page = admin_client.get(reverse("admin:mailings_mailing_change", args=[mailing.pk])).content.decode()
    assert page.count("09:00 MSK") == 5
    assert f'value="{local(start)}"' in page  # the form shows the owner's wall-clock time too
    assert "add_id_message" not in page  # no "+" popup: a new message starts on its own add page


def test_admin_refuses_a_message_or_clients_of_another_owner(admin_client):
    owner, other = UserFactory(), UserFactory()
    start = timezone.now() + dt.timedelta(days=1)
    response = admin_client.post(
        add_url("mailing", owner),
        mailing_data(
            MessageFactory(owner=other), [ClientFactory(owner=other)], start, start + dt.timedelta(days=1)
        ),
    )
    assert set(form_errors(response)) >= {"message", "clients"}
    assert not Mailing.objects.exists()


# --- the domain's messages, not the database's ---------------------------------------------------


def test_end_before_start_shows_the_domain_message(admin_client):
    """Was `Constraint "mailings_mailing_end_after_start" is violated.`"""
    owner = UserFactory(time_zone="Europe/Moscow")
    start = timezone.localtime(timezone=MOSCOW) + dt.timedelta(days=2)
    response = admin_client.post(
        add_url("mailing", owner),
        mailing_data(
            MessageFactory(owner=owner), [ClientFactory(owner=owner)], start, start - dt.timedelta(days=1)
        ),
    )
    assert form_errors(response)["end_at"] == ["The end must be after the start."]
    assert "Constraint" not in response.content.decode()
    assert not Mailing.objects.exists()


def test_end_in_the_past_shows_the_domain_message(admin_client):
    """The admin's own form missed "end in the past"."""
    owner = UserFactory(time_zone="Europe/Moscow")
    now = timezone.localtime(timezone=MOSCOW)
    response = admin_client.post(
        add_url("mailing", owner),
        mailing_data(
            MessageFactory(owner=owner),
            [ClientFactory(owner=owner)],
            now - dt.timedelta(days=3),
            now - dt.timedelta(days=1),
        ),
    )
    assert form_errors(response)["end_at"] == ["The end is already in the past."]
    assert not Mailing.objects.exists()


def test_duplicate_client_shows_the_domain_message(admin_client):
    """Was `Constraint "mailings_client_owner_email_ci_unique" is violated.`"""
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org")
    response = admin_client.post(
        add_url("client", owner), {"email": "ANN@Example.ORG", "full_name": "Ann", "comment": ""}
    )
    assert form_errors(response)["email"] == ["You already have a client with this email."]
    assert "Constraint" not in response.content.decode()
    assert Client.objects.count() == 1


def test_client_added_in_the_admin_is_normalised_and_belongs_to_the_chosen_owner(admin_client):
    owner = UserFactory()
    response = admin_client.post(
        add_url("client", owner), {"email": "Bob@MAIL.Example.ORG", "full_name": "Bob", "comment": ""}
    )
    assert response.status_code == 302, form_errors(response)
    client_obj = Client.objects.get()
    assert (client_obj.owner, client_obj.email) == (owner, "Bob@mail.example.org")


def test_unsubscribed_then_deleted_address_readded_in_the_admin_stays_unsubscribed(admin_client):
    """R-SEND-8: the admin carries an earlier unsubscribe over, like the service does."""
    owner = UserFactory()
    services.client_unsubscribe(client=ClientFactory(owner=owner, email="gone@example.org"))
    delete = reverse("admin:mailings_client_delete", args=[Client.objects.get().pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Client.objects.exists()
    response = admin_client.post(
        add_url("client", owner), {"email": "Gone@Example.org", "full_name": "Back", "comment": ""}
    )
    assert response.status_code == 302, form_errors(response)
    assert Client.objects.get().unsubscribed_at == Unsubscription.objects.get(owner=owner).created_at


def test_message_placeholders_are_validated(admin_client):
    """The default model form took any {placeholder}."""
    owner = UserFactory()
    response = admin_client.post(
        add_url("message", owner), {"subject": "Hi {name}", "body": "Hello {full_name}"}
    )
    [error] = response.context["adminform"].form.errors.as_data()["subject"]
    assert error.code == "unknown_placeholder" and "{name}" in error.message % error.params
    response = admin_client.post(add_url("message", owner), {"subject": "Hi\r\nBcc: x@y", "body": "ok"})
    assert "subject" in form_errors(response)
    assert not Message.objects.exists()
    response = admin_client.post(add_url("message", owner), {"subject": "Hi {full_name}", "body": "ok"})
    assert response.status_code == 302
    assert Message.objects.get().owner == owner


# --- editing and the active switch ---------------------------------------------------------------


def change_data(mailing, **overrides):
    tz = mailing.owner.time_zone
    data = mailing_data(
        mailing.message,
        mailing.clients.all(),
        timezone.localtime(mailing.start_at, ZoneInfo(tz)),
        timezone.localtime(mailing.end_at, ZoneInfo(tz)),
        mailing.periodicity,
        active=mailing.is_active,
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_unticking_active_disables_through_the_service(admin_client, root):
    """Unticking Active skipped mailing_disable, so "disabled at/by" stayed empty."""
    owner = UserFactory(time_zone="Europe/Moscow")
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    url = reverse("admin:mailings_mailing_change", args=[mailing.pk])
    response = admin_client.post(url, change_data(mailing, is_active=None))
    assert response.status_code == 302, form_errors(response)
    mailing.refresh_from_db()
    assert (mailing.is_active, mailing.disabled_by) == (False, root)
    assert mailing.disabled_at is not None
    response = admin_client.post(url, change_data(mailing, is_active="on"))
    assert response.status_code == 302, form_errors(response)
    mailing.refresh_from_db()
    assert (mailing.is_active, mailing.disabled_at, mailing.disabled_by) == (True, None, None)


def test_an_unchanged_past_end_does_not_block_another_edit(admin_client):
    """The form compares "changed" in the owner's zone: a superuser in another zone saving an unchanged end
    must not be told the end is in the past, nor shift the times."""
    owner = UserFactory(time_zone="America/New_York")
    mailing = MailingFactory(
        owner=owner,
        start_at=timezone.now() - dt.timedelta(days=10),
        end_at=(timezone.now() - dt.timedelta(days=1)).replace(second=0, microsecond=0),
        clients=[ClientFactory(owner=owner)],
    )
    mailing.start_at = mailing.start_at.replace(second=0, microsecond=0)
    Mailing.objects.filter(pk=mailing.pk).update(start_at=mailing.start_at)
    new_message = MessageFactory(owner=owner)
    response = admin_client.post(
        reverse("admin:mailings_mailing_change", args=[mailing.pk]),
        change_data(mailing, message=new_message.pk),
    )
    assert response.status_code == 302, form_errors(response)
    before = (mailing.start_at, mailing.end_at)
    mailing.refresh_from_db()
    assert (mailing.message, (mailing.start_at, mailing.end_at)) == (new_message, before)


def test_owner_is_not_editable_in_the_admin(admin_client):
    """Moving an object to another owner is not a domain operation: the owner is read-only."""
    owner, other = UserFactory(), UserFactory()
    client_obj = ClientFactory(owner=owner)
    url = reverse("admin:mailings_client_change", args=[client_obj.pk])
    response = admin_client.post(
        url, {"owner": other.pk, "email": client_obj.email, "full_name": "Renamed", "comment": ""}
    )
    assert response.status_code == 302, form_errors(response)
    client_obj.refresh_from_db()
    assert (client_obj.owner, client_obj.full_name) == (owner, "Renamed")


def test_a_mailing_with_a_log_is_deleted_through_the_service(admin_client):
    """The log is read-only on its own, but goes with its mailing."""
    owner = UserFactory()
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, email="x@example.org")
    response = admin_client.post(reverse("admin:mailings_mailing_delete", args=[mailing.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Mailing.objects.exists() and not Delivery.objects.exists()


# --- the delivery log -----------------------------------------------------------------------------


@pytest.fixture
def log():
    owner = UserFactory()
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner, email="rcpt@example.org")])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    delivery = Delivery.objects.create(
        mailing=mailing,
        occurrence=occurrence,
        email="rcpt@example.org",
        status=Delivery.Status.SENT,
        attempts=2,
    )
    earlier = DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=timezone.now() - dt.timedelta(minutes=5),
        outcome=DeliveryAttempt.Outcome.TEMPORARY,
        smtp_code=451,
        response="try later",
    )
    Unsubscription.objects.create(owner=owner, email="left@example.org")
    return {
        "occurrence": occurrence,
        "delivery": delivery,
        "deliveryattempt": earlier,
        "unsubscription": Unsubscription.objects.get(),
    }


@pytest.mark.parametrize("model", ["occurrence", "delivery", "deliveryattempt", "unsubscription"])
def test_log_is_read_only_in_the_admin(admin_client, log, model):
    """Change and delete are refused for real (POST), not only hidden; "add" too."""
    obj = log[model]
    assert admin_client.get(reverse(f"admin:mailings_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:mailings_{model}_change", args=[obj.pk])).status_code == 200
    assert admin_client.get(reverse(f"admin:mailings_{model}_add")).status_code == 403
    change = admin_client.post(
        reverse(f"admin:mailings_{model}_change", args=[obj.pk]), {"email": "x@example.org"}
    )
    assert change.status_code == 403
    delete = admin_client.post(reverse(f"admin:mailings_{model}_delete", args=[obj.pk]), {"post": "yes"})
    assert delete.status_code == 403
    bulk = admin_client.post(
        reverse(f"admin:mailings_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert bulk.status_code == 200  # "no action selected": the delete action is not offered
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert Delivery.objects.get().status == Delivery.Status.SENT


def test_attempts_list_shows_each_attempts_own_outcome(admin_client, log):
    """Beside a 451 attempt the list said "sent" (the delivery's status now)."""
    response = admin_client.get(reverse("admin:mailings_deliveryattempt_changelist"))
    row = response.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    assert "temporary failure" in row and "451" in row and "rcpt@example.org" in row
    assert "sent" not in row
    inline = admin_client.get(
        reverse("admin:mailings_delivery_change", args=[log["delivery"].pk])
    ).content.decode()
    assert "temporary failure" in inline and "try later" in inline


def test_only_a_superuser_creates_in_another_users_list():
    """The services' `owner=` (used by the admin) is a superuser's power; anyone else creates their own."""
    from django.core.exceptions import PermissionDenied

    from tests.factories import make_manager

    owner = UserFactory()
    data = {"email": "x@example.org", "full_name": "X"}
    for actor in (UserFactory(), make_manager()):
        with pytest.raises(PermissionDenied):
            services.client_create(actor=actor, owner=owner, data=data)
    member = UserFactory()
    assert services.client_create(actor=member, owner=member, data=data).owner == member
    root = UserFactory(is_superuser=True, is_staff=True)
    assert services.message_create(actor=root, owner=owner, data={"subject": "s", "body": "b"}).owner == owner


def test_a_blocked_owners_lists_are_still_checked_in_the_admin(admin_client):
    """A superuser working on a blocked user's list gets the domain's duplicate message, not a database error,
    and can still pick that user's message and clients."""
    owner = UserFactory(is_blocked=True)
    ClientFactory(owner=owner, email="ann@example.org")
    response = admin_client.post(add_url("client", owner), {"email": "ann@example.org", "full_name": "Ann"})
    assert form_errors(response)["email"] == ["You already have a client with this email."]
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    response = admin_client.post(
        reverse("admin:mailings_mailing_change", args=[mailing.pk]),
        change_data(mailing, periodicity="weekly"),
    )
    assert response.status_code == 302, form_errors(response)
    assert Mailing.objects.get().periodicity == "weekly"
