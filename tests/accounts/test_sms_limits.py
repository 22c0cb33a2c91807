"""SMS pumping (R-AUTH-8): every cap is counted in the database before the SMS goes out.

The parallel tests post to a live threaded server, each request its own thread and database connection,
with the fake sms.ru answering slowly so that the requests overlap; the sends are counted at the fake.
"""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.cache import cache
from django.test import Client as DjangoClient
from django.urls import reverse

from backend.accounts import ratelimit
from backend.accounts.models import PhoneVerification, RateCounter
from backend.accounts.ratelimit import DAY, Limit, RateLimited
from tests.factories import UserFactory
from tests.fakes.smsru import FakeSmsRu

PHONE = "+79161234567"
pytestmark = pytest.mark.django_db


@pytest.fixture
def smsru(settings):
    with FakeSmsRu() as server:
        settings.SMS_BACKEND, settings.SMSRU_API_ID, settings.SMSRU_URL = "smsru", "test-key", server.url
        settings.SMS_TIMEOUT = 5.0
        yield server


def send_code(client, phone=PHONE):
    return client.post(reverse("accounts:phone"), {"send": "1", "phone": phone})


# --- in parallel, against a live server ---------------------------------------------------------------------


def logged_in_session(live_server, user) -> requests.Session:
    """A requests session carrying `user`'s session cookie and a CSRF token, like a browser."""
    django_client = DjangoClient()
    django_client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", django_client.cookies["sessionid"].value)
    page = session.get(live_server.url + reverse("accounts:phone"), timeout=30)
    assert page.status_code == 200
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def post_in_parallel(live_server, sessions, phones) -> list[requests.Response]:
    url = live_server.url + reverse("accounts:phone")
    start = threading.Barrier(len(sessions))

    def post(args):
        session, phone = args
        start.wait()
        return session.post(url, data={"send": "1", "phone": phone}, timeout=60, allow_redirects=False)

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        return list(pool.map(post, zip(sessions, phones, strict=True)))


# serialized_rollback: the migrations' data (Wagtail tree, roles) survive the flushes between tests.
def live(test):
    return pytest.mark.slow(pytest.mark.django_db(transaction=True, serialized_rollback=True)(test))


@live
def test_parallel_requests_of_one_user_send_one_code(live_server, smsru):
    """The one-minute pace holds under parallel POSTs: the user's row is locked while it is checked
    ."""
    smsru.mode, smsru.delay = "slow", 0.3
    session = logged_in_session(live_server, UserFactory())
    sessions = [session] + [requests.Session() for _ in range(7)]
    for other in sessions[1:]:
        other.cookies.update(session.cookies)
        other.headers.update(session.headers)

    responses = post_in_parallel(live_server, sessions, [PHONE] * len(sessions))

    assert sorted(r.status_code for r in responses) == [200] * 7 + [302]  # one sent, the rest told to wait
    assert sum("less than a minute ago" in r.text for r in responses) == 7
    assert len(smsru.requests) == 1


@live
def test_parallel_requests_to_one_number_send_exactly_its_daily_cap(live_server, smsru, settings):
    """Ten accounts at once ask codes for one number: exactly PHONE_CODES_PER_DAY go out."""
    settings.PHONE_CODES_PER_DAY = 3
    smsru.mode, smsru.delay = "slow", 0.3
    sessions = [logged_in_session(live_server, UserFactory()) for _ in range(10)]

    responses = post_in_parallel(live_server, sessions, [PHONE] * 10)

    assert sorted(r.status_code for r in responses) == [200] * 7 + [302] * 3  # never a 500 ("locked")
    assert sum("Too many codes today" in r.text for r in responses) == 7
    assert len(smsru.requests) == 3


@live
def test_parallel_requests_send_exactly_the_service_wide_daily_cap(live_server, smsru, settings):
    """SMS_DAILY_LIMIT caps the whole service, whatever the users and numbers."""
    settings.SMS_DAILY_LIMIT = 4
    smsru.mode, smsru.delay = "slow", 0.3
    sessions = [logged_in_session(live_server, UserFactory()) for _ in range(10)]
    phones = [f"+7916123456{n}" for n in range(10)]

    responses = post_in_parallel(live_server, sessions, phones)

    assert sorted(r.status_code for r in responses) == [200] * 6 + [302] * 4
    assert sum("No more codes can be sent today" in r.text for r in responses) == 6
    assert len(smsru.requests) == 4


# --- the rules, one request at a time -----------------------------------------------------------------------


def test_the_daily_caps_live_in_the_database_not_in_a_process_cache(client, smsru, settings):
    """A cache per process multiplied every cap by the number of web processes."""
    settings.PHONE_CODES_PER_DAY = 1
    client.force_login(UserFactory())
    assert send_code(client).status_code == 302
    PhoneVerification.objects.all().delete()  # past the one-minute pace
    cache.clear()  # what another process would see

    response = send_code(client)

    assert "Too many codes today" in response.content.decode()
    assert len(smsru.requests) == 1
    assert RateCounter.objects.filter(scope="sms-number").get().hits == 1


def test_the_service_wide_cap_is_a_clear_message(client, smsru, settings):
    settings.SMS_DAILY_LIMIT = 1
    client.force_login(UserFactory())
    send_code(client)
    client.force_login(UserFactory())

    response = send_code(client, "+79161234568")

    assert "No more codes can be sent today; try again tomorrow." in response.content.decode()
    assert len(smsru.requests) == 1


@pytest.mark.parametrize(
    ("phone", "countries", "sent"),
    [
        ("+12025550143", ["RU"], False),
        ("+12025550143", ["RU", "US"], True),
        ("+447400123456", ["*"], True),
        ("+79161234567", ["RU"], True),
        ("+77012345678", ["RU"], False),  # Kazakhstan shares +7 with Russia
    ],
)
def test_codes_go_only_to_the_allowed_countries(client, smsru, settings, phone, countries, sent):
    """SMS_ALLOWED_COUNTRIES: a number of another country is a form error, no SMS."""
    settings.SMS_ALLOWED_COUNTRIES = countries
    client.force_login(UserFactory())

    response = send_code(client, phone)

    assert len(smsru.requests) == (1 if sent else 0)
    if not sent:
        assert "Codes cannot be sent to phone numbers of this country." in response.content.decode()
        assert not RateCounter.objects.exists()


def test_the_service_refuses_a_country_whatever_the_caller(smsru, settings):
    from django.core.exceptions import ValidationError

    from backend.accounts.services import phone_start

    settings.SMS_ALLOWED_COUNTRIES = ["RU"]
    with pytest.raises(ValidationError) as info:
        phone_start(user=UserFactory(), phone="+12025550143")
    assert info.value.code == "country_not_allowed"
    assert smsru.requests == []


@pytest.mark.parametrize(
    ("mode", "refunded"),
    [("error", True), ("number_error", True), ("garbage", False), ("http500", False), ("slow", False)],
)
def test_a_failed_sms_gives_the_count_back_only_when_it_certainly_cost_nothing(
    client, smsru, settings, mode, refunded
):
    """sms.ru saying no costs nothing, so the caps are given back; a timeout or an unreadable answer may have
    been sent and billed, so it stays counted."""
    settings.PHONE_CODES_PER_DAY = 1
    settings.SMS_TIMEOUT = 0.3
    smsru.mode, smsru.delay = mode, 1.0
    client.force_login(UserFactory())
    assert "The SMS could not be sent" in send_code(client).content.decode()
    assert not PhoneVerification.objects.exclude(code_hash="").exists()  # the failed code is gone
    assert "less than a minute ago" in send_code(client).content.decode()  # the pace holds either way

    PhoneVerification.objects.all().delete()
    smsru.mode = "ok"
    response = send_code(client)

    if refunded:
        assert response.status_code == 302
        assert len(smsru.requests) == 2
    else:
        assert "Too many codes today" in response.content.decode()
        assert len(smsru.requests) == 1


def test_a_closed_port_counts_as_not_sent(client, settings):
    """Sms.ru could not be reached, so nothing was sent: the user is told, and every daily count
    taken before the attempt was given back (the counters exist, at zero)."""
    from tests.fakes.smsru import closed_port

    settings.SMS_BACKEND, settings.SMSRU_API_ID = "smsru", "test-key"
    settings.SMSRU_URL = f"http://127.0.0.1:{closed_port()}/sms/send"
    client.force_login(UserFactory())
    assert "The SMS could not be sent" in send_code(client).content.decode()
    assert sorted(RateCounter.objects.values_list("scope", "hits")) == [
        ("sms-number", 0),
        ("sms-service", 0),
        ("sms-user", 0),
    ]


# --- the counter itself ---------------------------------------------------------------------------------


def test_take_counts_all_limits_or_none():
    first, second = Limit("a", "k", 5, DAY), Limit("b", "k", 1, DAY)
    ratelimit.take(first, second)
    with pytest.raises(RateLimited) as info:
        ratelimit.take(first, second)
    assert info.value.limit == second
    assert RateCounter.objects.get(scope="a").hits == 1  # the refused take left the first count alone


def test_a_window_ends_and_a_new_one_starts_and_zero_is_no_limit(monkeypatch):
    # The occasional sweep (real clock) would delete these March counters at random: not this test's subject.
    monkeypatch.setattr(ratelimit, "_SWEEP_ONE_IN", 10**9)
    limit = Limit("w", "k", 1, DAY)
    day = dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC)
    ratelimit.take(limit, now=day)
    with pytest.raises(RateLimited) as info:
        ratelimit.take(limit, now=day)
    assert info.value.retry_after == 60
    ratelimit.take(limit, now=day + dt.timedelta(minutes=2))  # the next UTC day
    for _ in range(3):
        ratelimit.take(Limit("w", "k", 0, DAY))
    assert RateCounter.objects.filter(scope="w").count() == 2


def test_counters_of_windows_that_are_over_are_swept(monkeypatch):
    monkeypatch.setattr(ratelimit, "_SWEEP_ONE_IN", 1)
    old, current = Limit("s", "old", 1, DAY), Limit("s", "current", 1, DAY)
    ratelimit.take(old, now=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    ratelimit.take(current, now=dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    assert RateCounter.objects.filter(scope="s").count() == 1
    with pytest.raises(RateLimited):
        ratelimit.take(current, now=dt.datetime(2026, 3, 2, 13, tzinfo=dt.UTC))


def test_refund_gives_the_count_back():
    limit = Limit("r", "k", 1, DAY)
    taken = ratelimit.take(limit)
    taken.refund()
    ratelimit.take(limit)
    assert RateCounter.objects.get(scope="r").hits == 1


# --- the settings -------------------------------------------------------------------------------------------


def test_the_limit_settings_have_safe_defaults_and_are_read_from_the_environment():
    from tests.ops.test_settings import read_settings

    names = (
        "SMS_DAILY_LIMIT",
        "SMS_ALLOWED_COUNTRIES",
        "ACCOUNT_EMAILS_PER_RECIPIENT",
        "ACCOUNT_EMAILS_PER_CLIENT",
    )
    assert read_settings(*names, DEBUG="1") == {
        "SMS_DAILY_LIMIT": 200,
        "SMS_ALLOWED_COUNTRIES": ["RU"],
        "ACCOUNT_EMAILS_PER_RECIPIENT": 3,
        "ACCOUNT_EMAILS_PER_CLIENT": 20,
    }
    values = dict(
        SMS_DAILY_LIMIT="50",
        SMS_ALLOWED_COUNTRIES="ru, kz",
        ACCOUNT_EMAILS_PER_RECIPIENT="0",
        ACCOUNT_EMAILS_PER_CLIENT="7",
    )
    assert read_settings(*names, DEBUG="1", **values) == {
        "SMS_DAILY_LIMIT": 50,
        "SMS_ALLOWED_COUNTRIES": ["RU", "KZ"],
        "ACCOUNT_EMAILS_PER_RECIPIENT": 0,
        "ACCOUNT_EMAILS_PER_CLIENT": 7,
    }
    assert read_settings("SMS_ALLOWED_COUNTRIES", DEBUG="1", SMS_ALLOWED_COUNTRIES="*") == {
        "SMS_ALLOWED_COUNTRIES": ["*"]
    }


def test_an_unknown_country_code_stops_start_up():
    from tests.ops.test_settings import settings_error

    last_line = settings_error(DEBUG="1", SMS_ALLOWED_COUNTRIES="RU,UK")
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert "SMS_ALLOWED_COUNTRIES must be ISO 3166 country codes" in last_line
    assert "UK" in last_line


@pytest.mark.parametrize("seconds,minutes", [(0, 1), (1, 1), (60, 1), (61, 2), (3599, 60), (3600, 60)])
def test_retry_after_is_told_in_whole_minutes_rounded_up(seconds, minutes):
    """The one conversion the too-many-requests page and the test-send message both show."""
    assert RateLimited(Limit("scope", "key", 1, DAY), seconds).retry_after_minutes == minutes
