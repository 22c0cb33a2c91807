"""Account emails are throttled and sign-up costs the same for any address.

Sign-up, the link again, /accounts/password-reset/ and Wagtail's /cms/password_reset/ share two hourly
limits, counted in the database: per recipient address and per client address.
"""

import re

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from django.urls import reverse

from backend.accounts.models import RateCounter
from tests.factories import UserFactory
from tests.helpers import deliver_account_mail

pytestmark = pytest.mark.django_db
PASSWORD = "plum-Orchard-47-lantern"


def sign_up(client, email, **extra):
    data = {"email": email, "full_name": "", "password1": PASSWORD}
    return client.post(reverse("accounts:signup"), data, **extra)


def resend(client, email, **extra):
    return client.post(reverse("accounts:resend"), {"email": email}, **extra)


def reset(client, email, **extra):
    return client.post(reverse("accounts:password_reset"), {"email": email}, **extra)


def cms_reset(client, email, **extra):
    return client.post("/cms/password_reset/", {"email": email}, **extra)


PATHS = {"sign-up": sign_up, "resend": resend, "password reset": reset, "wagtail password reset": cms_reset}


@pytest.fixture
def limits(settings):
    settings.ACCOUNT_EMAILS_PER_RECIPIENT = 2
    settings.ACCOUNT_EMAILS_PER_CLIENT = 5
    return settings


def assert_too_many(response):
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many requests" in page
    assert "Please try again in" in page
    assert '<nav class="navbar' in page  # the site's own layout, also under /cms/
    assert 1 <= int(response["Retry-After"]) <= 3600


@pytest.mark.parametrize("path", PATHS)
def test_each_path_stops_at_the_per_recipient_limit(client, limits, path):
    """A third request for one address within the hour sends nothing and says why."""
    UserFactory(email="victim@example.com", email_verified=path != "resend")
    send = PATHS[path]
    for _ in range(2):
        assert send(client, "victim@example.com").status_code in (200, 302)
    sent = len(deliver_account_mail())
    assert sent == 2

    response = send(client, "Victim@EXAMPLE.com")  # any letter case is the same mailbox

    assert_too_many(response)
    assert len(deliver_account_mail()) == sent


def without_csrf_tokens(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


@pytest.mark.parametrize("path", PATHS)
def test_the_limit_page_is_the_same_for_an_unknown_address(client, limits, path):
    """The per-recipient limit counts the address asked for, account or not: a 429 tells nothing."""
    UserFactory(email="known@example.com", email_verified=path != "resend")
    send = PATHS[path]
    for _ in range(2):
        send(client, "known@example.com")
        send(client, "ghost@example.com")
    known, ghost = send(Client(), "known@example.com"), send(Client(), "ghost@example.com")
    assert known.status_code == ghost.status_code == 429
    assert without_csrf_tokens(known) == without_csrf_tokens(ghost)


@pytest.mark.parametrize("path", PATHS)
def test_each_path_stops_at_the_per_client_limit(client, limits, path):
    """Many addresses from one client address: the sixth request is refused; another client is not."""
    send = PATHS[path]
    for n in range(5):
        assert send(client, f"someone{n}@example.com").status_code in (200, 302)

    assert_too_many(send(client, "someone5@example.com"))
    assert send(client, "someone5@example.com", REMOTE_ADDR="198.51.100.7").status_code in (200, 302)


def test_the_paths_share_one_count_per_recipient(client, limits):
    UserFactory(email="victim@example.com", email_verified=False)
    reset(client, "victim@example.com")
    cms_reset(client, "victim@example.com")
    assert_too_many(resend(client, "victim@example.com"))
    assert_too_many(sign_up(client, "victim@example.com"))
    assert len(deliver_account_mail()) == 2


def test_a_refused_sign_up_creates_no_account(client, limits):
    limits.ACCOUNT_EMAILS_PER_CLIENT = 1
    sign_up(client, "first@example.com")
    assert_too_many(sign_up(client, "second@example.com"))
    from django.contrib.auth import get_user_model

    assert list(get_user_model().objects.values_list("email", flat=True)) == ["first@example.com"]


def test_counts_are_kept_in_the_database_without_the_addresses(client, limits):
    sign_up(client, "private@example.com")
    counters = RateCounter.objects.filter(scope__startswith="mail-")
    assert sorted(counters.values_list("scope", "hits")) == [("mail-client", 1), ("mail-to", 1)]
    assert all("private" not in c.key_hash and "127.0.0.1" not in c.key_hash for c in counters)


def test_zero_means_no_limit(client, settings):
    settings.ACCOUNT_EMAILS_PER_RECIPIENT = settings.ACCOUNT_EMAILS_PER_CLIENT = 0
    UserFactory(email="victim@example.com")
    for _ in range(6):
        assert reset(client, "victim@example.com").status_code == 302
    assert len(deliver_account_mail()) == 6


# --- the same cost for a new and a registered address ---------------------------------------


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast, as the suite uses), counting how many passwords were hashed."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.calls = 0
    return CountingHasher


@pytest.mark.parametrize("existing", [None, "verified", "unverified"])
def test_sign_up_hashes_the_password_once_whether_the_address_is_new_or_taken(
    client, counting_hasher, existing
):
    """An existing address used to skip the hash a new one pays, so timing told them apart."""
    if existing:
        UserFactory(email="taken@example.com", email_verified=existing == "verified")
    counting_hasher.calls = 0

    response = sign_up(client, "taken@example.com")

    assert response.status_code == 200
    assert counting_hasher.calls == 1
