"""`send_mailing ID`, `send_due` and the unsubscribe link (R-SEND-6, R-SEND-8, R-SEND-9)."""

from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from backend.mailings.forms import MessageForm
from backend.mailings.models import Mailing, Occurrence
from backend.mailings.unsubscribe import unsubscribe_url
from tests.factories import ClientFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- send_mailing -------------------------------------------------------------------


def test_send_mailing_sends_a_manual_occurrence_and_keeps_the_schedule(smtp):
    mailing = due_mailing(clients=2, periodicity="weekly")
    next_run = mailing.next_run_at
    output = run("send_mailing", str(mailing.pk))
    assert "occurrences started: 1, recipients queued: 2; sent: 2, failed: 0, retrying: 0" in output
    assert len(smtp.received) == 2
    occurrence = Occurrence.objects.get()
    assert occurrence.is_manual
    mailing.refresh_from_db()
    assert mailing.next_run_at == next_run
    assert mailing.status == Mailing.Status.STARTED


def test_send_mailing_twice_sends_twice_on_purpose(smtp):
    mailing = due_mailing(clients=1)
    run("send_mailing", str(mailing.pk))
    run("send_mailing", str(mailing.pk))
    assert len(smtp.received) == 2
    assert Occurrence.objects.filter(is_manual=True).count() == 2


def test_send_mailing_dry_run_sends_and_writes_nothing(smtp):
    mailing = due_mailing(clients=2)
    output = run("send_mailing", str(mailing.pk), "--dry-run")
    assert "would go to 2 client(s)" in output
    for email in mailing.clients.values_list("email", flat=True):
        assert email in output
    assert not smtp.received
    assert not Occurrence.objects.exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda m: m.delete(), "No mailing with id"),
        (lambda m: Mailing.objects.filter(pk=m.pk).update(is_active=False), "is disabled"),
        (lambda m: Mailing.objects.filter(pk=m.pk).update(status="completed"), "is completed"),
        (
            lambda m: type(m.owner).objects.filter(pk=m.owner_id).update(is_blocked=True),
            "blocked or inactive",
        ),
    ],
)
def test_send_mailing_refuses_clearly(smtp, setup, message):
    mailing = due_mailing(clients=1)
    pk = mailing.pk
    setup(mailing)
    with pytest.raises(CommandError, match=message):
        call_command("send_mailing", str(pk))
    assert not smtp.received


def test_send_mailing_bad_arguments_exit_1_without_traceback():
    from tests.helpers import run_manage

    result = run_manage("send_mailing", "abc", DEBUG="1")
    assert result.returncode != 0
    assert "invalid int value" in result.stderr
    assert "Traceback" not in result.stderr


# --- send_due -----------------------------------------------------------------------


def test_send_due_prints_a_summary(smtp):
    due_mailing(clients=2)
    output = run("send_due")
    assert "occurrences started: 1, recipients queued: 2; sent: 2" in output


def test_send_due_exits_normally_when_the_server_is_down(smtp, settings):
    from tests.fakes.smtp import closed_port

    settings.EMAIL_PORT = closed_port()
    due_mailing(clients=4)
    output = run("send_due")  # no exception = exit code 0
    assert "retrying: 3" in output
    assert "stopped early" in output


# --- unsubscribe (R-SEND-8, R-SEND-9) --------------------------------------------------


def unsubscribe_path(client) -> str:
    return urlsplit(unsubscribe_url(client.unsubscribe_token)).path


def test_get_asks_for_confirmation_and_changes_nothing(client):
    recipient = ClientFactory()
    response = client.get(unsubscribe_path(recipient))
    assert response.status_code == 200
    assert "Unsubscribe?" in response.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None


def test_post_unsubscribes_and_is_idempotent(client):
    recipient = ClientFactory()
    response = client.post(unsubscribe_path(recipient))
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    recipient.refresh_from_db()
    first = recipient.unsubscribed_at
    assert first is not None
    client.post(unsubscribe_path(recipient))
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at == first


def test_one_click_post_from_a_mail_provider_needs_no_csrf_token():
    """RFC 8058: the provider POSTs List-Unsubscribe=One-Click with no cookie and no token."""
    recipient = ClientFactory()
    provider = HttpClient(enforce_csrf_checks=True)
    response = provider.post(unsubscribe_path(recipient), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None


@pytest.mark.parametrize("mangle", [lambda p: p.replace(":", ":x", 1), lambda p: "/unsubscribe/garbage/"])
def test_a_forged_or_broken_link_is_a_clear_404(client, mangle):
    recipient = ClientFactory()
    response = client.post(mangle(unsubscribe_path(recipient)))
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None


def test_unsubscribed_client_gets_nothing_afterwards(smtp, client):
    mailing = due_mailing(clients=2)
    leaving = mailing.clients.first()
    client.post(unsubscribe_path(leaving))
    run("send_due")
    assert leaving.email not in smtp.recipients()
    assert len(smtp.received) == 1


# --- placeholders are validated by the form ----------------------------------------


def test_unknown_placeholder_is_a_form_error_not_a_crash():
    form = MessageForm(
        data={"subject": "Hi {name}", "body": "Hello {full_name} {{ok}} {bogus}"}, owner=UserFactory()
    )
    assert not form.is_valid()
    assert form.errors.as_data()["subject"][0].code == "unknown_placeholder"
    assert "{bogus}" in form.errors["body"][0]
    assert "{full_name}" in form.errors["body"][0]  # the known ones are listed


def test_known_placeholders_and_literal_braces_are_valid():
    form = MessageForm(
        data={"subject": "Hi {first_name}", "body": "{full_name} {email} {{not a placeholder}}"},
        owner=UserFactory(),
    )
    assert form.is_valid(), form.errors


def test_deleting_and_re_adding_an_unsubscribed_address_does_not_resubscribe_it(smtp, client):
    """Found in review (R-SEND-8): the recipient's choice outlives the client row."""
    from backend.mailings import services

    mailing = due_mailing(clients=1)
    leaving = mailing.clients.get()
    client.post(unsubscribe_path(leaving))
    services.client_delete(actor=mailing.owner, client=leaving)
    again = services.client_create(
        actor=mailing.owner, data={"email": leaving.email.upper(), "full_name": "Back"}
    )
    assert again.unsubscribed_at is not None
    mailing.clients.add(again)
    # Even a client row forced back to subscribed (admin, shell) is not sent to.
    type(again).objects.filter(pk=again.pk).update(unsubscribed_at=None)
    run("send_due")
    assert smtp.received == []
