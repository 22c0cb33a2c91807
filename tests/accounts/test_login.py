"""Login, throttling, blocking and roles (R-AUTH-1, R-AUTH-5, R-AUTH-6)."""

import datetime as dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_cache_keys
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.checks import WARNING, run_checks
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from backend.accounts import roles, services
from backend.accounts import selectors as account_selectors
from backend.accounts.throttling import DEVICE_COOKIE, DEVICE_COOKIE_SALT, client_ip, login_key
from backend.mailings import selectors as mailing_selectors
from backend.mailings import services as mailing_services
from tests.factories import DEFAULT_PASSWORD, MailingFactory, UserFactory
from tests.helpers import deliver_account_mail, run_manage, run_python

User = get_user_model()
pytestmark = pytest.mark.django_db


def login(client, email, password=DEFAULT_PASSWORD, **extra):
    return client.post(reverse("accounts:login"), {"username": email, "password": password}, **extra)


def manager(**kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


# --- login -------------------------------------------------------------------------


def test_wrong_password_is_a_generic_error_that_does_not_call_the_email_case_sensitive(client):
    """Django's text said both fields may be case-sensitive; the email is not."""
    UserFactory(email="a@example.com")
    for email in ("a@example.com", "nobody@example.com"):
        response = login(client, email, "wrong-password")
        assert response.status_code == 200
        errors = response.context["form"].non_field_errors()
        assert errors == [
            "Please enter a correct email and password. The password is case-sensitive; the email is not."
        ]
        assert "both fields" not in response.content.decode()


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


# --- throttling ---------------------------------------------

HANDLERS = {
    "database": "backend.accounts.throttling.DatabaseLoginThrottle",
    "cache": "backend.accounts.throttling.CacheLoginThrottle",  # Redis when REDIS_URL is set
}
HERE, ELSEWHERE = "198.51.100.7", "192.0.2.44"
NEW_PASSWORD = "violet-Harbor-93-kettle"


@pytest.fixture(params=sorted(HANDLERS))
def throttle(request, settings):
    """Each throttling test runs on both handlers, with small limits: pair 3, address 8, account 6."""
    settings.AXES_HANDLER = HANDLERS[request.param]
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_IP_FAILURE_LIMIT = 8
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 6
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=5)
    return request.param


def reset_link(message) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def fail(client, email, address, times=1):
    return [login(client, email, "guess", REMOTE_ADDR=address).status_code for _ in range(times)]


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_logging_into_ones_own_account_does_not_clear_the_failures_at_another(client, throttle, settings):
    """The reported sequence: sign up, guess 4 times at a victim, log into your own account from
    the same address, repeat. axes's own reset deleted every failure from the address, so the guessing never
    ended; the 5th guess must lock the victim's pair."""
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_IP_FAILURE_LIMIT = settings.AXES_ACCOUNT_FAILURE_LIMIT = 100
    UserFactory(email="victim@example.com")
    UserFactory(email="attacker@example.com")
    statuses = []
    for _ in range(2):
        statuses += fail(client, "victim@example.com", HERE, times=4)
        assert login(client, "attacker@example.com", REMOTE_ADDR=HERE).status_code == 302
        client.logout()
    assert statuses == [200] * 4 + [429] * 4
    assert login(client, "victim@example.com", REMOTE_ADDR=HERE).status_code == 429  # even the right password
    assert not logged_in(client)


def test_a_success_forgives_the_typos_of_its_own_pair(client, throttle):
    """What a successful login does clear: its own (account, address) failures."""
    UserFactory(email="typist@example.com")
    for _ in range(3):
        assert fail(client, "typist@example.com", HERE, times=2) == [200, 200]
        assert login(client, "typist@example.com", REMOTE_ADDR=HERE).status_code == 302
        client.logout()


def test_the_pair_is_locked_at_that_address_only_until_the_cool_off(client, throttle, settings):
    """AXES_FAILURE_LIMIT failures for one email from one address lock that pair (any spelling
    of the email); the owner elsewhere is not locked; the lock ends with the cool-off."""
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=1)
    UserFactory(email="victim@example.com")
    assert fail(client, "VICTIM@example.com", HERE, times=3) == [200, 200, 429]
    locked = login(client, "victim@example.com", REMOTE_ADDR=HERE)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert not logged_in(client)
    assert login(client, "victim@example.com", REMOTE_ADDR=ELSEWHERE).status_code == 302
    client.logout()
    time.sleep(1.2)
    assert login(client, "victim@example.com", REMOTE_ADDR=HERE).status_code == 302


def test_typos_of_a_made_up_email_do_not_lock_the_other_accounts_at_that_address(client, throttle):
    """Five typos of a made-up email on a shared address (an office) used to lock every account
    there."""
    UserFactory(email="colleague@example.com")
    assert fail(client, "nobody@exmaple.com", HERE, times=5) == [200, 200, 429, 429, 429]
    assert login(client, "colleague@example.com", REMOTE_ADDR=HERE).status_code == 302


def test_an_address_is_locked_after_many_failures_at_any_emails(client, throttle):
    """AXES_IP_FAILURE_LIMIT failures from one address, at any emails, lock the address."""
    UserFactory(email="innocent@example.com")
    for n in range(7):
        fail(client, f"guess{n}@example.com", HERE)
    assert login(client, "innocent@example.com", REMOTE_ADDR=HERE).status_code == 302
    client.logout()
    assert fail(client, "guess7@example.com", HERE) == [429]
    assert login(client, "innocent@example.com", REMOTE_ADDR=HERE).status_code == 429
    assert login(client, "innocent@example.com", REMOTE_ADDR=ELSEWHERE).status_code == 302


def test_one_stranger_hammering_an_account_does_not_lock_its_owner_out(client, throttle):
    """Refused attempts are not counted, so one address adds at most AXES_FAILURE_LIMIT to the
    account's count and cannot reach AXES_ACCOUNT_FAILURE_LIMIT alone."""
    UserFactory(email="owner@example.com")
    assert set(fail(client, "owner@example.com", HERE, times=20)[2:]) == {429}
    assert login(client, "owner@example.com", REMOTE_ADDR=ELSEWHERE).status_code == 302


def test_many_addresses_lock_an_account_and_a_password_reset_by_the_link_lifts_it(client, throttle):
    """Distributed guessing (each address under the pair limit) locks the account everywhere;
    its owner sets a new password through the emailed link and logs in again."""
    UserFactory(email="owner@example.com")
    for n in range(3):
        assert fail(client, "owner@example.com", f"203.0.113.{n}", times=2) == [200, 200 if n < 2 else 429]
    assert login(client, "owner@example.com", REMOTE_ADDR=ELSEWHERE).status_code == 429
    assert not logged_in(client)

    client.post(reverse("accounts:password_reset"), {"email": "owner@example.com"}, REMOTE_ADDR=ELSEWHERE)
    form_page = client.get(reset_link(deliver_account_mail()[-1]), follow=True, REMOTE_ADDR=ELSEWHERE)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR=ELSEWHERE,
    )
    assert login(client, "owner@example.com", NEW_PASSWORD, REMOTE_ADDR=ELSEWHERE).status_code == 302


HOME = "198.51.100.20"  # the owner's usual address


def lock_the_account_from_strangers(email: str) -> None:
    """Distributed guessing: 2 failures from each of 3 addresses (each under the pair limit 3) reach the
    account limit 6."""
    stranger = Client()
    for n in range(3):
        assert fail(stranger, email, f"203.0.113.{n}", times=2) == [200, 200 if n < 2 else 429]


def owners_browser(email: str) -> Client:
    """A browser that logged into `email` before and logged out (by the page: the test client's logout()
    would drop every cookie): it keeps the device cookie."""
    browser = Client()
    assert login(browser, email, REMOTE_ADDR=HOME).status_code == 302
    browser.post(reverse("accounts:logout"))
    assert not logged_in(browser)
    return browser


def test_the_owners_browser_that_logged_in_before_is_not_locked_out_by_strangers(throttle, settings):
    """Device cookie: strangers at several addresses reach the account limit; a browser without
    the cookie is refused even at the owner's usual address with the right password, while the owner's
    browser, which logged in before, logs in. The others stay refused."""
    UserFactory(email="owner@example.com")
    browser = owners_browser("owner@example.com")
    cookie = browser.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == 180 * 24 * 60 * 60
    assert bool(cookie["secure"]) == settings.SESSION_COOKIE_SECURE
    lock_the_account_from_strangers("owner@example.com")

    assert login(Client(), "owner@example.com", REMOTE_ADDR=HOME).status_code == 429
    assert login(browser, "owner@example.com", REMOTE_ADDR=HOME).status_code == 302
    assert logged_in(browser)
    assert login(Client(), "owner@example.com", REMOTE_ADDR=HOME).status_code == 429


@pytest.mark.parametrize(
    "cookie",
    ["other account", "tampered", "signed for another purpose", "older than 180 days", "old password"],
)
def test_a_forged_or_stale_device_cookie_gives_no_exemption(throttle, cookie, monkeypatch):
    """Device cookie: only a cookie that a login into this very account left, with its current
    password, spares the account lock; the genuine one does (so this fails without the exemption)."""
    owner = UserFactory(email="owner@example.com")
    UserFactory(email="other@example.com")
    genuine = owners_browser("owner@example.com")
    if cookie == "other account":
        forged = owners_browser("other@example.com")
    else:
        forged = Client()
        value = genuine.cookies[DEVICE_COOKIE].value
        if cookie == "tampered":
            payload, signature = value.rsplit(":", 1)
            value = f"{payload}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        elif cookie == "signed for another purpose":
            value = signing.dumps(signing.loads(value, salt=DEVICE_COOKIE_SALT), salt="mailer.other")
        elif cookie == "older than 180 days":
            issued = time.time() - 181 * 24 * 60 * 60
            monkeypatch.setattr(signing.time, "time", lambda: issued)
            value = signing.dumps(signing.loads(value, salt=DEVICE_COOKIE_SALT), salt=DEVICE_COOKIE_SALT)
            monkeypatch.undo()
        forged.cookies[DEVICE_COOKIE] = value
    if cookie == "old password":
        forged = genuine
        owner.set_password(NEW_PASSWORD)
        owner.save()
        genuine = Client()
        assert login(genuine, "owner@example.com", NEW_PASSWORD, REMOTE_ADDR=HOME).status_code == 302
        genuine.post(reverse("accounts:logout"))
    password = NEW_PASSWORD if cookie == "old password" else DEFAULT_PASSWORD
    lock_the_account_from_strangers("owner@example.com")

    assert login(forged, "owner@example.com", password, REMOTE_ADDR=HOME).status_code == 429
    assert not logged_in(forged)
    assert login(genuine, "owner@example.com", password, REMOTE_ADDR=HOME).status_code == 302


def test_a_browser_with_the_device_cookie_is_still_locked_by_the_pair_limit(throttle):
    """Device cookie: the cookie spares only the account count; the owner's browser still has
    AXES_FAILURE_LIMIT guesses per cool-off at its address, then even the right password is refused."""
    UserFactory(email="owner@example.com")
    browser = owners_browser("owner@example.com")
    lock_the_account_from_strangers("owner@example.com")
    assert fail(browser, "owner@example.com", HOME, times=3) == [200, 200, 429]
    assert login(browser, "owner@example.com", REMOTE_ADDR=HOME).status_code == 429
    assert not logged_in(browser)


def test_a_copied_device_cookie_gets_only_the_pair_limit_of_guesses_from_all_addresses(throttle):
    """Device cookie, OWASP: failures made with a valid cookie count for its nonce; once they
    reach AXES_FAILURE_LIMIT the cookie spares nothing, whatever address each guess came from. Another
    browser of the owner (its own nonce) is still spared."""
    UserFactory(email="owner@example.com")
    browser = owners_browser("owner@example.com")
    other_browser = owners_browser("owner@example.com")
    lock_the_account_from_strangers("owner@example.com")
    thief = Client()
    thief.cookies[DEVICE_COOKIE] = browser.cookies[DEVICE_COOKIE].value

    statuses = [fail(thief, "owner@example.com", f"192.0.2.{100 + n}")[0] for n in range(3)]
    assert statuses == [200, 200, 429]
    assert login(thief, "owner@example.com", REMOTE_ADDR="192.0.2.200").status_code == 429
    assert not logged_in(thief)
    assert login(other_browser, "owner@example.com", REMOTE_ADDR=HOME).status_code == 302


def test_a_password_change_gives_the_browser_a_fresh_device_cookie(throttle):
    """Device cookie: the password page does not call login(); without a fresh cookie the
    owner's browser held one bound to the old password and was locked out with everyone else."""
    UserFactory(email="owner@example.com")
    browser = Client()
    assert login(browser, "owner@example.com", REMOTE_ADDR=HOME).status_code == 302
    response = browser.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR=HOME,
    )
    assert response.status_code == 302
    browser.post(reverse("accounts:logout"))
    lock_the_account_from_strangers("owner@example.com")

    assert login(Client(), "owner@example.com", NEW_PASSWORD, REMOTE_ADDR=HOME).status_code == 429
    assert login(browser, "owner@example.com", NEW_PASSWORD, REMOTE_ADDR=HOME).status_code == 302


def test_the_device_cookie_does_not_show_the_account(throttle):
    """Device cookie: the signed part is readable by anyone holding the cookie; it holds only
    a digest (of the account and its password hash) and a random nonce, not the account's pk."""
    owner = UserFactory(email="owner@example.com")
    payload = signing.loads(
        owners_browser("owner@example.com").cookies[DEVICE_COOKIE].value, salt=DEVICE_COOKIE_SALT
    )
    assert [type(part) for part in payload] == [str, str]
    assert owner.pk not in payload and str(owner.pk) not in payload


def test_authenticate_with_a_request_counts_and_locks_like_the_login_page(client, throttle):
    """GraphQL's tokenAuth will call authenticate(request, email=..., password=...); those
    failures add to the same pair as the page's, and a lock refuses even the right password."""
    UserFactory(email="api@example.com")

    def token_auth(password):
        request = RequestFactory().post(
            "/graphql/", data="{}", content_type="application/json", REMOTE_ADDR=HERE
        )
        return request, authenticate(request, email="API@example.com", password=password)

    fail(client, "api@example.com", HERE)
    for _ in range(2):
        request, user = token_auth("guess")
        assert user is None
    request, user = token_auth(DEFAULT_PASSWORD)
    assert user is None and request.axes_locked_out
    assert login(client, "api@example.com", REMOTE_ADDR=HERE).status_code == 429
    _, user = token_auth(DEFAULT_PASSWORD)
    assert user is None


def test_a_count_that_expires_while_a_failure_is_counted_is_no_500(client, settings, monkeypatch):
    """The cache handler adds a count, or raises it when it exists; a count that expires between the two
    (the add found it, the raise does not) starts again instead of failing the login."""
    settings.AXES_HANDLER = HANDLERS["cache"]
    cache = AxesProxyHandler.get_implementation().cache
    real_add, first_adds = cache.add, set()

    def add_that_loses_the_race(key, value, timeout=None):
        if key not in first_adds:
            first_adds.add(key)
            return False  # as if the key existed and expired right after
        return real_add(key, value, timeout=timeout)

    monkeypatch.setattr(cache, "add", add_that_loses_the_race)
    UserFactory(email="racer@example.com")
    assert fail(client, "racer@example.com", HERE) == [200]
    assert fail(client, "racer@example.com", HERE) == [200]
    assert (
        AxesProxyHandler.get_failures(
            RequestFactory().post("/", REMOTE_ADDR=HERE), {"username": "racer@example.com"}
        )
        == 2
    )


def counts(email, address=HERE) -> list[int]:
    """The (pair, address, account) counts a login of `email` from `address` would be checked against."""
    request = RequestFactory().post(reverse("accounts:login"), REMOTE_ADDR=address)
    AxesProxyHandler.update_request(request)
    return AxesProxyHandler.get_implementation().scope_failures(request, {"username": email})


@pytest.mark.parametrize("scope", ["pair", "address", "account"])
def test_failures_less_than_a_cool_off_apart_do_not_add_up_for_ever(client, throttle, settings, scope):
    """In both handlers a count runs out one cool-off after its first failure. The
    cache handler refreshed a count's expiry on every failure (and axes moved a database row's time to its
    latest failure), so with failures coming less than a cool-off apart a count never ran out: here the fifth
    failure, more than a cool-off after the first, locked."""
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=1)
    settings.AXES_FAILURE_LIMIT = 5 if scope == "pair" else 100
    settings.AXES_IP_FAILURE_LIMIT = 5 if scope == "address" else 100
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 5 if scope == "account" else 100
    UserFactory(email="victim@example.com")

    def failure(n):
        email = f"guess{n}@example.com" if scope == "address" else "victim@example.com"
        return fail(client, email, f"203.0.113.{n}" if scope == "account" else HERE)[0]

    statuses = [failure(n) for n in range(3)]
    time.sleep(0.7)  # less than a cool-off after the latest failure...
    statuses.append(failure(3))
    time.sleep(0.5)  # ...and again, but now more than a cool-off after the first
    statuses.append(failure(4))
    assert statuses == [200] * 5
    assert login(client, "victim@example.com", REMOTE_ADDR=HERE).status_code == 302


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the threads read the accounts
def test_parallel_forgiveness_of_one_pair_subtracts_its_count_once(client, throttle, settings, monkeypatch):
    """The cache handler read the pair's count, deleted it, and lowered the address's
    and the account's counts by it. Parallel successful logins of the attacker's own account all read "4"
    and each subtracted 4, wiping the address's count (and sending the account's below zero). Here the
    cache handler's forgivers all read before any deletes; only the one whose delete removed the key may
    subtract. (The database handler deletes the pair's rows, which parallel callers cannot overdo.)"""
    settings.AXES_FAILURE_LIMIT = settings.AXES_IP_FAILURE_LIMIT = settings.AXES_ACCOUNT_FAILURE_LIMIT = 100
    attacker = UserFactory(email="attacker@example.com")
    UserFactory(email="victim@example.com")
    fail(client, "attacker@example.com", HERE, times=4)
    fail(client, "victim@example.com", HERE, times=3)
    assert counts("attacker@example.com") == [4, 7, 4]

    handler = AxesProxyHandler.get_implementation()
    parallel = 6
    all_have_read = threading.Barrier(parallel, timeout=10)

    class ReadsTogether:
        def __init__(self, cache):
            self._cache = cache

        def get(self, *args, **kwargs):
            value = self._cache.get(*args, **kwargs)
            all_have_read.wait()
            return value

        def __getattr__(self, name):
            return getattr(self._cache, name)

    if throttle == "cache":
        monkeypatch.setattr(handler, "cache", ReadsTogether(handler.cache))
    request = RequestFactory().post(reverse("accounts:login"), REMOTE_ADDR=HERE)
    AxesProxyHandler.update_request(request)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        forgiving = [
            pool.submit(handler.forgive_pair, request, {"username": attacker.email}) for _ in range(parallel)
        ]
    for done in forgiving:
        done.result()
    monkeypatch.undo()

    assert counts("attacker@example.com") == [0, 3, 0]
    assert counts("victim@example.com") == [3, 3, 3]


def test_forgiving_never_takes_a_count_below_zero(client, settings):
    """The address's count may have run out and started again after the pair's
    failures (each count runs out on its own); forgiving the pair then takes it to zero, not below, where
    the address would have had failures to spare."""
    settings.AXES_HANDLER = HANDLERS["cache"]
    settings.AXES_FAILURE_LIMIT = settings.AXES_ACCOUNT_FAILURE_LIMIT = 100
    settings.AXES_IP_FAILURE_LIMIT = 3
    UserFactory(email="attacker@example.com")
    fail(client, "attacker@example.com", HERE, times=2)
    request = RequestFactory().post(reverse("accounts:login"), REMOTE_ADDR=HERE)
    _pair, address_key, _account = get_client_cache_keys(request, {"username": "attacker@example.com"})
    AxesProxyHandler.get_implementation().cache.delete(address_key)  # as if it had run out
    fail(client, "someone@example.com", HERE)
    assert counts("attacker@example.com") == [2, 1, 2]

    assert login(client, "attacker@example.com", REMOTE_ADDR=HERE).status_code == 302
    client.logout()

    assert counts("attacker@example.com") == [0, 0, 0]
    assert fail(client, "guess@example.com", HERE, times=3) == [200, 200, 429]


def live_login(live_server, email, password=DEFAULT_PASSWORD) -> requests.Response:
    session = requests.Session()
    url = live_server.url + reverse("accounts:login")
    session.get(url, timeout=30)
    return session.post(
        url,
        data={"username": email, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=30,
        allow_redirects=False,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_successful_logins_forgive_their_pair_once(live_server, throttle, settings):
    """The reported attack against a live server: four guesses at one's own account,
    three at a victim's, then parallel successful logins to one's own account from the same address. The
    address keeps the victim's three failures and no count goes below zero. (Whether the requests interleave
    as in the attack is up to the scheduler; the test above forces it.)"""
    settings.AXES_FAILURE_LIMIT = settings.AXES_IP_FAILURE_LIMIT = settings.AXES_ACCOUNT_FAILURE_LIMIT = 100
    here = "127.0.0.1"  # the live server's clients
    UserFactory(email="attacker@example.com")
    UserFactory(email="victim@example.com")
    for email, times in (("attacker@example.com", 4), ("victim@example.com", 3)):
        for _ in range(times):
            assert live_login(live_server, email, "guess").status_code == 200
    parallel = 8
    start = threading.Barrier(parallel, timeout=30)

    def log_in(_):
        start.wait()
        return live_login(live_server, "attacker@example.com").status_code

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        assert list(pool.map(log_in, range(parallel))) == [302] * parallel

    assert counts("attacker@example.com", here) == [0, 3, 0]
    assert counts("victim@example.com", here) == [3, 3, 3]


def test_the_lockout_page_says_how_long_in_a_plural_aware_way(client, throttle, settings):
    UserFactory(email="victim@example.com")
    fail(client, "victim@example.com", HERE, times=3)
    page = login(client, "victim@example.com", REMOTE_ADDR=HERE)
    assert "paused for up to 5 minutes" in page.content.decode()
    assert page["Retry-After"] == "300"
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=30)
    assert (
        "paused for up to 1 minute." in login(client, "victim@example.com", REMOTE_ADDR=HERE).content.decode()
    )


def test_look_alike_spellings_of_a_locked_email_are_locked_too(client, throttle):
    """Found in review: the lock follows the account, not the typed text; PostgreSQL matches a long s
    (U+017F) with "s", so that spelling logged in while "sam" was locked."""
    UserFactory(email="sam@example.com")
    statuses = [
        login(client, spelling, "guess", REMOTE_ADDR=HERE).status_code
        for spelling in ("sam@example.com", "SAM@example.com", "Sam@Example.com")
    ]
    assert statuses == [200, 200, 429]
    # PostgreSQL matches the long s with "s" (so it would log in but for the lock); SQLite does not (so it is
    # an unknown email, refused with the generic error).
    long_s_is_the_account = User.objects.filter(email__iexact="\u017fam@example.com").exists()
    for spelling, expected in (
        ("\u017fam@example.com", 429 if long_s_is_the_account else 200),
        ("sam@EXAMPLE.COM", 429),
    ):
        assert login(client, spelling, REMOTE_ADDR=HERE).status_code == expected, spelling
        assert not logged_in(client)


def test_login_key_follows_the_account_and_its_password():
    user = UserFactory(email="Key@example.com")
    request = RequestFactory().post("/accounts/login/")
    key = login_key(request, {"username": "KEY@example.com"})
    assert key.startswith(f"user:{user.pk}:")
    assert login_key(request, {"email": "key@example.com"}) == key
    assert login_key(request, {"username": "Nobody@Example.com"}) == "nobody@example.com"
    user.set_password(NEW_PASSWORD)
    user.save()
    assert login_key(request, {"username": "key@example.com"}) != key


# --- the client's address behind proxies ---------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "10.0.0.1"),
        (0, "203.0.113.7", "10.0.0.1"),  # no trusted proxy: the header is the client's own words
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 7.7.7.7, 203.0.113.7", "203.0.113.7"),  # spoofed entries left of ours
        (2, "203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "6.6.6.6,203.0.113.7 ,10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "203.0.113.7"),  # fewer entries than proxies: the leftmost, written by a proxy
        (1, None, "10.0.0.1"),  # no header: the connection's address
        (1, "unknown", "10.0.0.1"),  # not an address
        (1, "6.6.6.6, 2001:DB8::1", "2001:db8::1"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    assert client_ip(RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.0.0.1", **extra)) == expected


def test_behind_a_proxy_the_lock_is_per_client_and_spoofed_entries_do_not_escape_it(
    client, throttle, settings
):
    """Every request comes from the proxy (one REMOTE_ADDR); the client is the entry the proxy
    appended, whatever the client wrote before it. A header that is no address is no 500."""
    settings.TRUSTED_PROXY_COUNT = 1
    UserFactory(email="victim@example.com")
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(3):
        login(client, "victim@example.com", "guess", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, {HERE}", **via_proxy)
    spoofed = login(client, "victim@example.com", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {HERE}", **via_proxy)
    assert spoofed.status_code == 429
    other = login(client, "victim@example.com", HTTP_X_FORWARDED_FOR=ELSEWHERE, **via_proxy)
    assert other.status_code == 302
    client.logout()
    assert (
        login(client, "victim@example.com", "guess", HTTP_X_FORWARDED_FOR="garbage", **via_proxy).status_code
        == 200
    )


def test_a_proxy_without_a_trusted_proxy_count_is_a_warning(settings):
    """Upgrade hazard: USE_X_FORWARDED_PROTO=1 once also took the client from
    X-Forwarded-For; TRUSTED_PROXY_COUNT now does, with 0 by default, so behind a proxy every request counted
    as the proxy's address. `check` (and every start-up) warns about it."""
    settings.SECURE_PROXY_SSL_HEADER = (
        "HTTP_X_FORWARDED_PROTO",
        "https",
    )  # what USE_X_FORWARDED_PROTO=1 sets
    settings.TRUSTED_PROXY_COUNT = 0
    warnings = [message for message in run_checks() if message.id == "mailer.W001"]
    assert len(warnings) == 1
    assert warnings[0].level == WARNING
    assert "TRUSTED_PROXY_COUNT" in warnings[0].hint

    settings.TRUSTED_PROXY_COUNT = 1
    assert not [message for message in run_checks() if message.id == "mailer.W001"]
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.TRUSTED_PROXY_COUNT = 0
    assert not [message for message in run_checks() if message.id == "mailer.W001"]


def test_check_names_the_missing_proxy_count_and_deploy_is_clean_once_it_is_set():
    """Proxy settings from the environment, as an operator upgrading would run it."""
    from tests.ops.test_settings import PROD

    result = run_manage("check", DEBUG="1", USE_X_FORWARDED_PROTO="1")
    assert "mailer.W001" in result.stderr
    assert "Set TRUSTED_PROXY_COUNT" in result.stderr
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        USE_X_FORWARDED_PROTO="1",
        TRUSTED_PROXY_COUNT="1",
        **PROD,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT must be 0 or more"),
        ({"TRUSTED_PROXY_COUNT": "two"}, "TRUSTED_PROXY_COUNT has an invalid value"),
        ({"AXES_IP_FAILURE_LIMIT": "0"}, "must each be at least 1"),
    ],
)
def test_bad_throttling_settings_stop_start_up_clearly(env, message):
    result = run_python("from django.conf import settings; settings.DATABASES", DEBUG="1", **env)
    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]


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
    assert not roles.sees_all_mailings(editor)
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
