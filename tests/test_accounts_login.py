"""Login, throttling, blocking and roles (R-AUTH-1, R-AUTH-5, R-AUTH-6)."""

import datetime as dt
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from backend.accounts import selectors as account_selectors
from backend.accounts import services
from backend.mailings import selectors as mailing_selectors
from backend.mailings import services as mailing_services
from tests.factories import DEFAULT_PASSWORD, MailingFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def login(client, email, password=DEFAULT_PASSWORD, **extra):
    return client.post(reverse("accounts:login"), {"username": email, "password": password}, **extra)


def manager(**kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


# --- login -------------------------------------------------------------------------


def test_wrong_password_is_a_generic_error(client):
    UserFactory(email="a@example.com")
    response = login(client, "a@example.com", "wrong-password")
    assert response.status_code == 200
    assert "Please enter a correct email" in response.content.decode()


def test_blocked_user_is_told_and_not_logged_in(client):
    UserFactory(email="b@example.com", is_blocked=True)
    response = login(client, "b@example.com")
    assert "Your account is blocked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_needs_post_and_ends_the_session(client):
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


# --- throttling ---------------------------------------------------------------------


@pytest.fixture
def throttle(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=1)


def test_repeated_failures_for_one_email_lock_it_then_it_recovers(client, throttle):
    UserFactory(email="victim@example.com")
    for _ in range(3):
        login(client, "VICTIM@example.com", "guess", REMOTE_ADDR="10.0.0.1")
    locked = login(client, "victim@example.com", REMOTE_ADDR="10.0.0.2")  # right password, other address
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    time.sleep(1.2)
    assert login(client, "victim@example.com", REMOTE_ADDR="10.0.0.2").status_code == 302


def test_repeated_failures_from_one_address_lock_that_address(client, throttle):
    UserFactory(email="innocent@example.com")
    for n in range(3):
        login(client, f"guess{n}@example.com", "guess", REMOTE_ADDR="10.0.0.9")
    assert login(client, "innocent@example.com", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert login(client, "innocent@example.com", REMOTE_ADDR="10.0.0.10").status_code == 302


# --- blocking -----------------------------------------------------------------------


def test_manager_blocks_a_user_whose_session_ends_on_the_next_request(client):
    boss = manager()
    member = UserFactory()
    client.force_login(member)
    assert client.get(reverse("accounts:profile")).status_code == 200

    blocked = services.user_block(actor=boss, user=member, reason="spam complaints")
    assert (blocked.is_blocked, blocked.blocked_by, blocked.blocked_reason) == (True, boss, "spam complaints")
    assert blocked.blocked_at is not None

    response = client.get(reverse("accounts:profile"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert "Your account is blocked" in response.content.decode()
    assert "_auth_user_id" not in client.session

    services.user_unblock(actor=boss, user=member)
    assert login(client, member.email).status_code == 302


def test_managers_cannot_block_superusers_or_themselves(client):
    boss = manager()
    root = UserFactory(is_superuser=True, is_staff=True)
    for target in (root, boss):
        with pytest.raises(PermissionDenied):
            services.user_block(actor=boss, user=target)
        target.refresh_from_db()
        assert not target.is_blocked


@pytest.mark.parametrize("who", ["owner", "blocked_manager"])
def test_only_active_managers_block(who):
    target = UserFactory()
    actor = UserFactory() if who == "owner" else manager(is_blocked=True)
    with pytest.raises(PermissionDenied):
        services.user_block(actor=actor, user=target)
    target.refresh_from_db()
    assert not target.is_blocked


def test_superuser_may_block_anyone_but_themselves():
    root, other_root = UserFactory(is_superuser=True), UserFactory(is_superuser=True)
    assert services.user_block(actor=root, user=other_root).is_blocked
    with pytest.raises(PermissionDenied):
        services.user_block(actor=root, user=root)


def test_user_list_only_for_managers():
    boss, member = manager(), UserFactory()
    assert set(account_selectors.users_for(boss)) == {boss, member}
    assert not account_selectors.users_for(member).exists()


# --- roles (data migration) ---------------------------------------------------------


def test_roles_exist_with_exact_permissions():
    managers = Group.objects.get(name="Managers")
    assert sorted(managers.permissions.values_list("content_type__app_label", "codename")) == [
        ("accounts", "block_user"),
        ("accounts", "view_all_users"),
        ("mailings", "disable_mailing"),
        ("mailings", "view_all_mailings"),
    ]
    editors = Group.objects.get(name="Content editors")
    labels = set(editors.permissions.values_list("content_type__app_label", flat=True))
    assert "wagtailadmin" in labels
    assert not labels & {"mailings", "accounts"}


def test_a_manager_views_every_mailing_but_edits_none():
    """R-AUTH-5: refused in the service, not only hidden in a template."""
    boss = manager()
    mailing = MailingFactory()
    assert mailing in mailing_selectors.mailings_for(boss)
    with pytest.raises(PermissionDenied):
        mailing_services.mailing_delete(actor=boss, mailing=mailing)
    with pytest.raises(PermissionDenied):
        mailing_services.message_update(
            actor=boss, message=mailing.message, data={"subject": "x", "body": "y"}
        )
    assert mailing_services.mailing_disable(actor=boss, mailing=mailing).is_active is False


def test_content_editor_has_no_mailing_powers():
    editor = UserFactory()
    editor.groups.add(Group.objects.get(name="Content editors"))
    editor = User.objects.get(pk=editor.pk)
    assert editor.has_perm("wagtailadmin.access_admin")
    assert not mailing_selectors.can_view_all_mailings(editor)
    with pytest.raises(PermissionDenied):
        mailing_services.mailing_disable(actor=editor, mailing=MailingFactory())
    assert not account_selectors.users_for(editor).exists()


def test_admin_user_list_filters_for_superusers(client):
    root = UserFactory(is_superuser=True, is_staff=True)
    UserFactory(email="blocked@example.com", is_blocked=True)
    client.force_login(root)
    response = client.get(reverse("admin:accounts_user_changelist"), {"is_blocked__exact": "1"})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset.values_list("email", flat=True)) == ["blocked@example.com"]
    member = UserFactory(is_staff=False)
    client.force_login(member)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 302


def test_admin_block_action_goes_through_the_service_and_records_who(client):
    root = UserFactory(is_superuser=True, is_staff=True)
    member, other_root = UserFactory(), UserFactory(is_superuser=True)
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "block_users", "_selected_action": [member.pk, root.pk]},
        follow=True,
    )
    assert "Blocked 1 user(s)." in response.content.decode()
    assert "cannot block or unblock yourself" in response.content.decode()
    member.refresh_from_db()
    root.refresh_from_db()
    assert (member.is_blocked, member.blocked_by) == (True, root)
    assert not root.is_blocked
    assert not User.objects.get(pk=other_root.pk).is_blocked


def test_look_alike_spellings_of_a_locked_email_are_locked_too(client, throttle):
    """Found in review: the lock follows the account, not the typed text; PostgreSQL matches a long s
    (U+017F) with "s", so that spelling logged in while "sam" was locked."""
    UserFactory(email="sam@example.com")
    for spelling in ("sam@example.com", "SAM@example.com", "Sam@Example.com"):
        login(client, spelling, "guess", REMOTE_ADDR="10.0.1.1")
    for spelling in ("\u017fam@example.com", "sam@EXAMPLE.COM"):
        assert login(client, spelling, REMOTE_ADDR="10.0.1.2").status_code in (200, 429)
        assert "_auth_user_id" not in client.session


def test_login_key_follows_the_account():
    from django.test import RequestFactory

    from backend.accounts.throttling import login_key

    user = UserFactory(email="Key@example.com")
    request = RequestFactory().post("/accounts/login/")
    assert login_key(request, {"username": "KEY@example.com"}) == f"user:{user.pk}"
    assert login_key(request, {"username": "Nobody@Example.com"}) == "nobody@example.com"


def test_behind_a_proxy_the_lock_is_per_client_not_per_proxy():
    """Found in review: with every request coming from the proxy, REMOTE_ADDR would lock everyone at once."""
    from django.test import RequestFactory

    from backend.accounts.throttling import client_ip

    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7"
    )
    assert client_ip(request) == "203.0.113.7"
    assert client_ip(RequestFactory().post("/", REMOTE_ADDR="198.51.100.2")) == "198.51.100.2"
