"""The Django admin site admits active superusers only: a staff flag alone, a manager or a
content editor made staff get the login page and cannot log in there. Wagtail's /cms/ is separate."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory, make_manager

User = get_user_model()
pytestmark = pytest.mark.django_db


def staff_only():
    return UserFactory(is_staff=True)


def staff_manager():
    return make_manager(is_staff=True)


def staff_manager_by_group():
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def staff_editor():
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="Content editors"))
    return User.objects.get(pk=user.pk)


def staff_with_every_model_permission():
    """Even explicit admin permissions on every model do not make a non-superuser an admin user."""
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["mailings", "accounts"]))
    return User.objects.get(pk=user.pk)


ROLES = [staff_only, staff_manager, staff_manager_by_group, staff_editor, staff_with_every_model_permission]
PAGES = [
    ("admin:index", []),
    ("admin:accounts_user_changelist", []),
    ("admin:mailings_mailing_changelist", []),
    ("admin:mailings_mailing_add", []),
    ("admin:mailings_delivery_changelist", []),
]


@pytest.mark.parametrize("make_user", ROLES, ids=lambda f: f.__name__)
def test_non_superusers_get_nothing_from_the_admin(client, make_user):
    """Signed in, each role is sent to the admin login page from every admin page."""
    user = make_user()
    client.force_login(user)
    login_url = reverse("admin:login")
    for name, args in PAGES:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302, name
        assert response["Location"].startswith(login_url), name
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "mailings", "model_name": "client", "field_name": "owner", "term": "user"},
    )
    assert autocomplete.status_code == 302


@pytest.mark.parametrize("make_user", ROLES, ids=lambda f: f.__name__)
def test_non_superusers_cannot_log_in_to_the_admin(client, make_user):
    """The right password on the admin login page is refused like a wrong one."""
    user = make_user()
    response = client.post(
        reverse("admin:login"),
        {"username": user.email, "password": DEFAULT_PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    error = response.context["form"].errors["__all__"][0]
    assert error.startswith("Please enter the email and password of a superuser account.")
    assert "the email is not" in error  # Django's stock text called both fields case-sensitive


def test_a_superuser_logs_in_and_uses_the_admin(client):
    root = UserFactory(is_superuser=True, is_staff=True)
    response = client.post(
        reverse("admin:login"),
        {"username": root.email, "password": DEFAULT_PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:mailings_mailing_changelist")).status_code == 200


def test_a_superuser_without_the_staff_flag_or_blocked_is_refused(client):
    for root in (
        UserFactory(is_superuser=True, is_staff=False),
        UserFactory(is_superuser=True, is_staff=True, is_blocked=True),
    ):
        client.force_login(root)
        assert client.get(reverse("admin:index")).status_code == 302


def test_wagtail_admin_still_admits_a_content_editor(client):
    """The superusers-only rule is the Django admin's; Wagtail's /cms/ keeps its own (R-AUTH-6)."""
    client.force_login(staff_editor())
    assert client.get("/cms/").status_code == 200
