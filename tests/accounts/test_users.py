"""The custom user: email login in any letter case, unique case-insensitively (R-AUTH-1)."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def request():
    """A real request: django-axes (login throttling) needs one to count attempts."""
    from django.test import RequestFactory

    return RequestFactory().post("/accounts/login/")


def test_email_is_normalised_on_create_and_save():
    user = User.objects.create_user("  Ann.Smith@Example.COM ", "pw-1234-xyz")
    assert user.email == "Ann.Smith@example.com"
    user.email = " Bob@MAIL.Example.org"
    user.save()
    user.refresh_from_db()
    assert user.email == "Bob@mail.example.org"


def test_no_username_is_required_and_defaults_apply(settings):
    user = User.objects.create_user("x@example.com", "pw-1234-xyz")
    assert user.get_username() == "x@example.com"
    assert user.time_zone == settings.TIME_ZONE
    assert (user.email_verified, user.is_blocked, user.is_staff) == (False, False, False)


def test_superuser_is_staff_and_verified():
    admin = User.objects.create_superuser("root@example.com", "pw-1234-xyz")
    assert admin.is_superuser and admin.is_staff and admin.email_verified


def test_email_unique_in_any_letter_case_at_database_level():
    User.objects.create(email="Case@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        # `create` skips form validation: only the Lower("email") constraint can refuse this.
        User.objects.create(email="case@EXAMPLE.com")
    assert User.objects.count() == 1


def test_bulk_create_cannot_bypass_the_constraint():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="Dup@example.com"), User(email="dUP@example.com")])
    assert not User.objects.exists()


def test_authenticate_by_email_in_any_letter_case():
    user = UserFactory(email="Mixed.Case@example.com")
    assert authenticate(request(), username="mixed.case@EXAMPLE.COM", password=DEFAULT_PASSWORD) == user
    assert authenticate(request(), username="MIXED.CASE@example.com", password=DEFAULT_PASSWORD) == user
    assert authenticate(request(), username="mixed.case@example.com", password="wrong") is None
    assert authenticate(request(), username="nobody@example.com", password=DEFAULT_PASSWORD) is None


def test_blocked_inactive_or_unverified_user_cannot_authenticate():
    """R-AUTH-2, R-AUTH-5."""
    for user in (
        UserFactory(is_blocked=True),
        UserFactory(is_active=False),
        UserFactory(email_verified=False),
    ):
        assert authenticate(request(), username=user.email, password=DEFAULT_PASSWORD) is None


def test_login_page_logs_in_by_email_in_any_case(client):
    UserFactory(email="reader@example.com")
    response = client.post(
        reverse("accounts:login"), {"username": "READER@Example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    page = client.get(reverse("web:home"))
    assert b"reader@example.com" in page.content
    assert b"Log out" in page.content


def test_login_page_wrong_password_shows_form_error(client):
    UserFactory(email="reader@example.com")
    response = client.post(reverse("accounts:login"), {"username": "reader@example.com", "password": "nope"})
    assert response.status_code == 200
    assert b"alert-danger" in response.content
    assert "_auth_user_id" not in client.session


def test_time_zone_is_validated():
    from django.core.exceptions import ValidationError

    user = UserFactory.build(time_zone="Nowhere/Land")
    with pytest.raises(ValidationError) as excinfo:
        user.full_clean(exclude=["password"])
    assert "time_zone" in excinfo.value.message_dict


def test_a_users_zone_falls_back_to_the_servers_for_an_unknown_name():
    """One place reads a user's zone for forms and the admin; a stored name the system no longer knows must
    not break a page."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    assert UserFactory.build(time_zone="Europe/Moscow").tz == ZoneInfo("Europe/Moscow")
    assert UserFactory.build(time_zone="Mars/Olympus_Mons").tz == timezone.get_default_timezone()
