"""Password reset, profile, password change, phone by SMS and account deletion (R-AUTH-3, R-AUTH-8)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from backend.accounts.models import AccountEmail, PhoneVerification
from backend.mailings.models import Client, Mailing, Message
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MailingFactory, UserFactory
from tests.helpers import deliver_account_mail

User = get_user_model()
pytestmark = pytest.mark.django_db
NEW_PASSWORD = "violet-Harbor-93-kettle"


# --- password reset ---------------------------------------------------------------


def reset_link(message) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_password_reset_by_email_then_log_in_with_the_new_password(client):
    user = UserFactory(email="Forgetful@example.com", email_verified=False)
    response = client.post(
        reverse("accounts:password_reset"), {"email": "forgetful@EXAMPLE.com"}, follow=True
    )
    assert "a link to set a new password is on its way" in response.content.decode()
    deliver_account_mail()
    assert mail.outbox[0].to == [user.email]

    form_page = client.get(reset_link(mail.outbox[0]), follow=True)
    assert "Set a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your new password is saved" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.email_verified  # the link proved the address

    used_again = client.get(reset_link(mail.outbox[0]), follow=True)
    assert "This link does not work" in used_again.content.decode()


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "ghost@example.com"}, follow=True)
    assert "a link to set a new password is on its way" in response.content.decode()
    assert not deliver_account_mail()


def test_password_reset_with_the_mail_server_down_answers_as_usual_and_the_email_waits(client, settings):
    """The page cannot know: the link is queued, and the outbox retries it."""
    from tests.fakes.smtp import closed_port

    UserFactory(email="someone@example.com")
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    response = client.post(reverse("accounts:password_reset"), {"email": "someone@example.com"}, follow=True)
    assert response.status_code == 200
    assert "a link to set a new password is on its way" in response.content.decode()
    deliver_account_mail()
    row = AccountEmail.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)


# --- profile and password change --------------------------------------------------


def test_profile_requires_login(client):
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_profile_saves_names_and_time_zone_and_refuses_unknown_zones(client):
    user = UserFactory()
    client.force_login(user)
    ok = client.post(
        reverse("accounts:profile"),
        {"first_name": "Ann", "last_name": "Lee", "time_zone": "Asia/Tokyo"},
        follow=True,
    )
    assert "Your profile is saved" in ok.content.decode()
    user.refresh_from_db()
    assert (user.first_name, user.time_zone) == ("Ann", "Asia/Tokyo")
    bad = client.post(
        reverse("accounts:profile"), {"first_name": "A", "last_name": "L", "time_zone": "Mars/Base"}
    )
    assert "time_zone" in bad.context["form"].errors
    user.refresh_from_db()
    assert user.time_zone == "Asia/Tokyo"


def test_password_change_keeps_the_session(client):
    user = UserFactory()
    client.force_login(user)
    wrong = client.post(
        reverse("accounts:password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert "old_password" in wrong.context["form"].errors
    client.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("accounts:profile")).status_code == 200


# --- account deletion -------------------------------------------------------------


def test_delete_account_needs_the_password_and_takes_everything_of_the_user(client):
    user = UserFactory()
    client_obj = ClientFactory(owner=user)
    MailingFactory(owner=user, clients=[client_obj])
    other = MailingFactory()
    client.force_login(user)

    page = client.get(reverse("accounts:delete")).content.decode()
    assert "clients, messages, mailings and their delivery logs" in page

    wrong = client.post(reverse("accounts:delete"), {"password": "nope", "confirm": "on"})
    assert "password" in wrong.context["form"].errors
    unconfirmed = client.post(reverse("accounts:delete"), {"password": DEFAULT_PASSWORD})
    assert "confirm" in unconfirmed.context["form"].errors
    assert User.objects.filter(pk=user.pk).exists()

    done = client.post(
        reverse("accounts:delete"), {"password": DEFAULT_PASSWORD, "confirm": "on"}, follow=True
    )
    assert "Your account and all its data are deleted" in done.content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(Mailing.objects.all()) == [other]
    assert not Client.objects.filter(owner_id=user.pk).exists()
    assert Message.objects.filter(owner=other.owner).exists()
    assert "_auth_user_id" not in client.session


# --- phone verification (R-AUTH-8) ------------------------------------------------


def sent_code(caplog) -> str:
    codes = re.findall(r"Mailer code: (\d{6})", caplog.text)
    assert codes, caplog.text
    return codes[-1]


def test_phone_is_verified_with_the_sms_code(client, caplog):
    user = UserFactory()
    client.force_login(user)
    caplog.set_level("WARNING", logger="backend.accounts.sms")
    response = client.post(reverse("accounts:phone"), {"send": "1", "phone": "+7 916 123-45-67"}, follow=True)
    assert "We sent a 6-digit code to +79161234567" in response.content.decode()
    verification = PhoneVerification.objects.get(user=user)
    code = sent_code(caplog)
    assert code not in verification.code_hash  # only a hash is stored

    wrong = "000000" if code != "000000" else "111111"
    response = client.post(reverse("accounts:phone"), {"confirm": "1", "code": wrong})
    assert "Wrong code; 4 tries left." in response.content.decode()
    assert PhoneVerification.objects.get(user=user).tries_left == 4  # the wrong try is committed

    response = client.post(reverse("accounts:phone"), {"confirm": "1", "code": code}, follow=True)
    assert "Your phone number is verified" in response.content.decode()
    user.refresh_from_db()
    assert user.phone == "+79161234567" and user.phone_verified_at is not None
    assert not PhoneVerification.objects.exists()


def test_invalid_numbers_are_refused_before_any_sms(client, caplog):
    client.force_login(UserFactory())
    for number in ("12345", "+7 000", "not a phone"):
        response = client.post(reverse("accounts:phone"), {"send": "1", "phone": number})
        assert "Enter a valid phone number" in response.content.decode()
    assert "SMS to" not in caplog.text
    assert not PhoneVerification.objects.exists()


def test_code_runs_out_of_tries_and_expires(client, caplog, settings):
    settings.PHONE_CODE_TRIES = 2
    user = UserFactory()
    client.force_login(user)
    caplog.set_level("WARNING", logger="backend.accounts.sms")
    client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    code = sent_code(caplog)
    wrong = "000000" if code != "000000" else "111111"
    client.post(reverse("accounts:phone"), {"confirm": "1", "code": wrong})
    response = client.post(reverse("accounts:phone"), {"confirm": "1", "code": wrong}, follow=True)
    assert "Too many wrong codes" in response.content.decode()
    response = client.post(reverse("accounts:phone"), {"confirm": "1", "code": code}, follow=True)
    assert "Ask for a code first" in response.content.decode()
    user.refresh_from_db()
    assert user.phone == ""
    # Found in review: using up the tries must not reset the one-minute pace between SMS.
    again = client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    assert "less than a minute ago" in again.content.decode()

    PhoneVerification.objects.all().delete()
    client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    from django.utils import timezone

    PhoneVerification.objects.update(expires_at=timezone.now())
    response = client.post(
        reverse("accounts:phone"), {"confirm": "1", "code": sent_code(caplog)}, follow=True
    )
    assert "The code has expired" in response.content.decode()


def test_a_new_code_must_wait_a_minute(client):
    client.force_login(UserFactory())
    client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    response = client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    assert "less than a minute ago" in response.content.decode()


@pytest.mark.parametrize("mode", ["error", "garbage", "http500"])
def test_sms_ru_failure_is_a_clear_message_and_leaves_no_code(client, settings, mode):
    """The failed send's code is dropped; its send time stays for the one-minute pace."""
    from tests.fakes.smsru import FakeSmsRu

    user = UserFactory()
    client.force_login(user)
    with FakeSmsRu(mode=mode) as smsru:
        settings.SMS_BACKEND, settings.SMSRU_API_ID, settings.SMSRU_URL = "smsru", "test-key", smsru.url
        response = client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    assert response.status_code == 200
    assert "The SMS could not be sent" in response.content.decode()
    assert not PhoneVerification.objects.exclude(code_hash="").exists()
    assert 'name="confirm"' not in response.content.decode()


def test_sms_ru_success_sends_the_code_to_the_number(client, settings):
    from tests.fakes.smsru import FakeSmsRu

    client.force_login(UserFactory())
    with FakeSmsRu(mode="ok") as smsru:
        settings.SMS_BACKEND, settings.SMSRU_API_ID, settings.SMSRU_URL = "smsru", "test-key", smsru.url
        client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    assert smsru.requests[0]["to"] == "79161234567"
    assert re.fullmatch(r"Mailer code: \d{6}", smsru.requests[0]["msg"])
    assert PhoneVerification.objects.filter(phone="+79161234567").exists()


def test_codes_per_day_are_capped(client, settings, caplog):
    settings.PHONE_CODES_PER_DAY = 2
    client.force_login(UserFactory())
    caplog.set_level("WARNING", logger="backend.accounts.sms")
    for _ in range(2):
        PhoneVerification.objects.all().delete()  # skip the one-minute pace
        client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    PhoneVerification.objects.all().delete()
    response = client.post(reverse("accounts:phone"), {"send": "1", "phone": "+79161234567"})
    assert "Too many codes today" in response.content.decode()
    assert caplog.text.count("SMS to +79161234567") == 2
