"""Sign-up, email verification and the resend page, through the real views (R-AUTH-1, R-AUTH-2, R-AUTH-3)."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from backend.accounts.models import AccountEmail
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import deliver_account_mail

User = get_user_model()
pytestmark = pytest.mark.django_db

PASSWORD = "plum-Orchard-47-lantern"


def sign_up(client, email="new.user@example.com", password=PASSWORD, **extra):
    """Sign up, then let the scheduler send what the page queued."""
    response = client.post(
        reverse("accounts:signup"),
        {"email": email, "full_name": "Ann Lee", "password1": password, **extra},
    )
    deliver_account_mail()
    return response


def link_in(message) -> str:
    found = re.search(r"https?://\S+/accounts/verify/\S+/", message.body)
    assert found, message.body
    return found.group(0).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def confirm(client, link, password=PASSWORD, **kwargs):
    """Confirm by POST, setting the password."""
    return client.post(link, {"new_password1": password}, **kwargs)


def login(client, email, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_sign_up_then_confirm_from_the_same_browser_asks_no_password_again_R_AUTH_1(client, settings):
    """The first hour (R-OWN-3): the password is typed once at sign-up; the browser that typed it confirms
    with a button and is signed in, the time zone is the one the form sent (the browser's)."""
    settings.SITE_URL = "https://mailer.example.com"
    response = sign_up(client, time_zone="Asia/Yekaterinburg")
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    user = User.objects.get(email="new.user@example.com")
    assert (user.email_verified, user.first_name, user.last_name) == (False, "Ann", "Lee")
    assert user.time_zone == "Asia/Yekaterinburg"

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.user@example.com"]
    assert "https://mailer.example.com/accounts/verify/" in mail.outbox[0].body

    refused = login(client, "new.user@example.com")
    assert refused.status_code == 200
    assert "Confirm your email address first" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    page = client.get(link_in(mail.outbox[0])).content.decode()
    assert "you keep the password you chose" in page
    assert 'type="password"' not in page
    user.refresh_from_db()
    assert not user.email_verified  # a GET changes nothing

    verified = client.post(link_in(mail.outbox[0]), follow=True)
    assert verified.redirect_chain[-1][0] == reverse("web:dashboard")
    assert "new.user@example.com is confirmed" in verified.content.decode()
    user.refresh_from_db()
    assert user.email_verified and user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_confirming_from_another_browser_sets_the_password_once_and_signs_in(client):
    sign_up(client)
    phone = Client()  # the mail opened on another device
    page = phone.get(link_in(mail.outbox[0])).content.decode()
    assert "Confirm your email and set your password" in page
    assert page.count('type="password"') == 1
    verified = phone.post(link_in(mail.outbox[0]), {"new_password1": "another-Orchard-93-kite"}, follow=True)
    assert verified.redirect_chain[-1][0] == reverse("web:dashboard")
    user = User.objects.get()
    assert user.email_verified and user.check_password("another-Orchard-93-kite")
    assert phone.session["_auth_user_id"] == str(user.pk)
    assert "_auth_user_id" not in client.session


def test_a_time_zone_that_does_not_exist_is_a_field_error_and_none_is_the_default(client, settings):
    bad = sign_up(client, time_zone="Mars/Olympus_Mons")
    assert "time_zone" in bad.context["form"].errors
    sign_up(client, email="plain@example.com", time_zone="")
    assert User.objects.get().time_zone == settings.TIME_ZONE


def test_the_link_works_once(client):
    sign_up(client)
    link = link_in(mail.outbox[0])
    confirm(client, link)
    again = client.get(link)
    assert "Already confirmed" in again.content.decode()
    # Posted again, it changes nothing: a used link is no way to set someone's password.
    again = confirm(client, link, password="another-Lantern-58-plum")
    assert "Already confirmed" in again.content.decode()
    assert User.objects.get().check_password(PASSWORD)


def test_an_expired_link_is_refused_with_a_way_forward(client, settings, monkeypatch):
    settings.EMAIL_VERIFICATION_DAYS = 3
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 3 * 24 * 3600 - 60)
    sign_up(client)
    monkeypatch.setattr(signing.time, "time", real_time)
    response = client.get(link_in(mail.outbox[0]))
    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    assert confirm(client, link_in(mail.outbox[0])).status_code == 400
    assert reverse("accounts:resend") in response.content.decode()
    assert not User.objects.get().email_verified


@pytest.mark.parametrize(
    "mangle", [lambda link: link[:-5] + "xxxx/", lambda link: "/accounts/verify/garbage/"]
)
def test_a_tampered_link_verifies_nothing(client, mangle):
    sign_up(client)
    response = client.get(mangle(link_in(mail.outbox[0])))
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert confirm(client, mangle(link_in(mail.outbox[0]))).status_code == 400
    assert not User.objects.get().email_verified


def test_a_link_for_an_old_address_does_not_verify_a_new_one(client):
    sign_up(client)
    user = User.objects.get()
    user.email = "changed@example.com"
    user.save()
    response = confirm(client, link_in(mail.outbox[0]))
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.email_verified


def test_an_existing_address_gets_a_neutral_page_and_no_second_account(client):
    existing = UserFactory(email="Taken@example.com")
    response = sign_up(client, email="taken@EXAMPLE.com")
    page = response.content.decode()
    assert "Check your email" in page
    assert "already" not in page.lower()
    assert User.objects.count() == 1
    # The owner learns of it by email, with the way back in.
    assert mail.outbox[0].to == [existing.email]
    assert "/accounts/password-reset/" in mail.outbox[0].body
    existing.refresh_from_db()
    assert existing.check_password(DEFAULT_PASSWORD)


def test_signing_up_again_while_unverified_resends_the_link(client):
    sign_up(client)
    sign_up(client)
    assert User.objects.count() == 1
    assert len(mail.outbox) == 2
    assert "/accounts/verify/" in mail.outbox[1].body


def test_weak_or_mismatched_passwords_are_field_errors(client):
    weak = sign_up(client, password="12345678")
    assert weak.status_code == 200
    assert "password1" in weak.context["form"].errors
    # Typed once, with a "show" switch, not twice (R-OWN-3 of the first hour).
    assert "password2" not in weak.context["form"].fields
    bad_email = sign_up(client, email="not-an-email")
    assert "email" in bad_email.context["form"].errors
    assert not User.objects.exists()


def test_mail_server_down_keeps_the_account_and_the_email_waits(client, settings):
    """Never a 500, and nothing the page could know: the account is saved and its email waits in the outbox
    for the mail server (the retries are tests/accounts/test_outbox.py's)."""
    from tests.fakes.smtp import closed_port

    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    response = sign_up(client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Check your email" in page
    assert reverse("accounts:resend") in page
    assert User.objects.filter(email="new.user@example.com", email_verified=False).exists()
    row = AccountEmail.objects.get()
    assert (row.status, row.attempts, row.recipient) == ("pending", 1, "new.user@example.com")
    assert "ConnectionRefusedError" in row.last_error

    resend = client.post(reverse("accounts:resend"), {"email": "new.user@example.com"}, follow=True)
    assert "a new link is on its way" in resend.content.decode()
    assert AccountEmail.objects.filter(status="pending").count() == 2


def test_resend_page_is_neutral_and_sends_only_to_unverified_accounts(client):
    unverified = UserFactory(email="wait@example.com", email_verified=False)
    UserFactory(email="done@example.com")
    for email in ("wait@example.com", "done@example.com", "nobody@example.com"):
        response = client.post(reverse("accounts:resend"), {"email": email}, follow=True)
        assert "a new link is on its way" in response.content.decode()
    assert [m.to for m in deliver_account_mail()] == [[unverified.email]]


def test_signed_in_users_are_sent_home_from_sign_up(client):
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:signup")).status_code == 302


# --- pre-registration takeover --------------------------------------------------------------

ATTACKER_PASSWORD = "attacker-Chose-This-91"
VICTIM_PASSWORD = "victim-Owns-Mailbox-27"


def test_pre_registration_takeover_fails(client):
    """An attacker registers victim@corp with their own password and waits. A mail scanner
    opening the link verifies nothing; the victim following it sets her own password, and the attacker's
    password is dead."""
    attacker, victim, scanner = client, Client(), Client()
    sign_up(attacker, email="victim@corp.example", password=ATTACKER_PASSWORD)
    assert len(mail.outbox) == 1  # the link went to the victim's mailbox, not to the attacker

    # The victim signs up herself later: the address is taken, so she gets the link again.
    page = sign_up(victim, email="victim@corp.example", password=VICTIM_PASSWORD)
    assert "Check your email" in page.content.decode()
    link = link_in(mail.outbox[-1])
    assert mail.outbox[-1].to == ["victim@corp.example"]

    scanned = scanner.get(link)  # a mail scanner follows every link with a GET
    assert scanned.status_code == 200
    assert not User.objects.get().email_verified

    form_page = victim.get(link)
    assert "Confirm your email and set your password" in form_page.content.decode()
    confirm(victim, link, password=VICTIM_PASSWORD)

    user = User.objects.get()
    assert user.email_verified
    assert not user.check_password(ATTACKER_PASSWORD)
    refused = login(attacker, "victim@corp.example", password=ATTACKER_PASSWORD)
    assert "_auth_user_id" not in attacker.session
    assert refused.status_code == 200
    assert login(victim, "victim@corp.example", password=VICTIM_PASSWORD).status_code == 302
    assert victim.session["_auth_user_id"] == str(user.pk)


def test_confirming_checks_the_new_password_like_sign_up(client):
    sign_up(client)
    link = link_in(mail.outbox[0])
    other = Client()
    weak = confirm(other, link, password="12345678")
    assert weak.status_code == 200
    assert "new_password1" in weak.context["form"].errors
    assert not User.objects.get().email_verified
    assert "_auth_user_id" not in other.session


def test_a_browser_that_signed_up_with_a_taken_address_cannot_confirm_without_a_password(client):
    """The victim signing up after the attacker gets the link again, but her browser did not type the
    account's password: confirming asks her for one, and the attacker's dies."""
    attacker, victim = Client(), Client()
    sign_up(attacker, email="victim@corp.example", password=ATTACKER_PASSWORD)
    sign_up(victim, email="victim@corp.example", password=VICTIM_PASSWORD)
    link = link_in(mail.outbox[-1])
    assert "Confirm your email and set your password" in victim.get(link).content.decode()
    victim.post(link)  # no password: nothing happens
    assert not User.objects.get().email_verified
