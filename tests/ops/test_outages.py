"""Redis down (R-CACHE-1, R-SEND-5, R-AUTH throttling): every page and GraphQL operation answers,
sending goes on with the breaker's cooldown kept, failed logins still count, and the whole outage is one
warning line in the log (one info line when Redis is back), never a traceback per call.

"Down" is a Redis URL at a closed loopback port (connection refused at once), so these run without a Redis
server; the recovery tests start a private `redis-server` and stop it, and are skipped when there is none.
"""

import datetime as dt
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings.models import BreakerState, Client, DeliveryAttempt, Mailing
from backend.mailings.sending import send_due
from backend.web.stats import STATS_KEY
from tests.api.helpers import error_codes, gql
from tests.blog_helpers import publish_article
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MessageFactory, UserFactory, make_manager
from tests.fakes.smtp import closed_port
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

HERE = "198.51.100.7"
OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def redis_caches(location: str) -> dict:
    """settings.CACHES as production has it with REDIS_URL=`location`, with short timeouts."""
    options = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "OUTAGE_RETRY_SECONDS": 0.2}
    alias = {"BACKEND": "backend.cache.ResilientRedisCache", "LOCATION": location, "KEY_PREFIX": "mailer"}
    return {
        "default": {**alias, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}},
        "throttle": {**alias, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": False}},
    }


def caches_at(location: str):
    """The production cache set-up (both aliases, the cache login throttle) pointing at `location`."""
    return override_settings(
        CACHES=redis_caches(location),
        AXES_CACHE="throttle",
        AXES_HANDLER="backend.accounts.throttling.CacheLoginThrottle",
    )


@pytest.fixture
def redis_down():
    location = f"redis://127.0.0.1:{closed_port()}/0"
    with caches_at(location):
        yield caches["default"].outage
    AxesProxyHandler.get_implementation(force=True)  # its cache object was the closed port's


def cache_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "backend.cache"]


def assert_quiet_outage(caplog, outage, *, at_least_calls: int) -> None:
    """The outage was seen (calls failed) and logged exactly once, with no traceback anywhere."""
    assert outage.is_down and outage.failed_calls >= at_least_calls
    lines = [(record.levelname, record.getMessage()) for record in cache_lines(caplog)]
    assert [level for level, _ in lines] == ["WARNING"], lines
    assert "is unreachable" in lines[0][1] and "Connection refused" in lines[0][1]
    tracebacks = [record.getMessage() for record in caplog.records if record.exc_info]
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert tracebacks == [] and errors == []


# --- pages and GraphQL -------------------------------------------------------------------


def owner_world():
    owner = UserFactory(email="owner@example.com")
    client = ClientFactory(owner=owner)
    message = MessageFactory(owner=owner)
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        start_at=dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC),
        end_at=dt.datetime(2030, 2, 1, 9, tzinfo=dt.UTC),
        periodicity="once",
        time_zone=owner.time_zone,
        next_run_at=dt.datetime(2030, 1, 1, 9, tzinfo=dt.UTC),
    )
    mailing.clients.set([client])
    return owner, client, message, mailing


def test_every_page_answers_with_redis_down(client, redis_down, caplog):
    """Home, blog, an article, the account pages, every owner page, the manager dashboard, the
    Django and Wagtail admins, and a form that writes (its cache invalidation lost): no 500; one log line."""
    caplog.set_level(logging.INFO)
    article = publish_article()
    owner, recipient, message, mailing = owner_world()
    anonymous = [
        "/",
        "/blog/",
        article.url,
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password-reset/",
    ]
    for url in anonymous:
        assert client.get(url).status_code == 200, url
    client.force_login(owner)
    for url in [
        "/",
        "/blog/",
        article.url,
        "/dashboard/",
        "/clients/",
        "/clients/new/",
        f"/clients/{recipient.pk}/edit/",
        f"/clients/{recipient.pk}/delete/",
        "/clients/import/",
        "/clients/export/",
        "/messages/",
        "/messages/new/",
        f"/messages/{message.pk}/edit/",
        f"/messages/{message.pk}/preview/",
        "/mailings/",
        "/mailings/new/",
        f"/mailings/{mailing.pk}/",
        f"/mailings/{mailing.pk}/edit/",
        f"/mailings/{mailing.pk}/delete/",
        f"/mailings/{mailing.pk}/report/",
        f"/mailings/{mailing.pk}/report/export/",
        "/reports/",
        "/accounts/profile/",
        "/accounts/password/",
        "/accounts/phone/",
        "/accounts/delete/",
        "/graphql/",
    ]:
        assert client.get(url, headers={"Accept": "text/html"}).status_code == 200, url
    created = client.post(
        "/clients/new/", {"email": "new@example.org", "full_name": "New One", "comment": ""}
    )
    assert created.status_code == 302 and Client.objects.filter(email="new@example.org").exists()
    assert client.get("/").status_code == 200  # the home page's counts, computed without the cache

    client.force_login(make_manager())
    assert client.get("/manager/").status_code == 200
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in ["/admin/", "/admin/mailings/mailing/", "/cms/", "/cms/pages/"]:
        assert client.get(url).status_code == 200, url

    assert_quiet_outage(caplog, redis_down, at_least_calls=10)


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text(encoding="utf-8")


def test_every_graphql_operation_answers_with_redis_down(redis_down, caplog):
    """R-API-1: each operation the pages and the manager dashboard send, as its user, and a
    write whose cache invalidation is lost; data, no errors, one log line."""
    caplog.set_level(logging.INFO)
    owner, _recipient, _message, mailing = owner_world()
    manager = UserFactory()
    manager.groups.add(Group.objects.get(name="Managers"))  # the role: mailings and the users' list
    manager = type(manager).objects.get(pk=manager.pk)
    mailing_id = to_global_id("Mailing", mailing.pk)
    owner_id = to_global_id("ManagedUser", owner.pk)
    sender = UserFactory(sending_paused_at=timezone.now(), sending_paused_reason="bounces")
    sender_id = to_global_id("ManagedUser", sender.pk)
    calls = [
        ("dashboard", {}, owner),
        ("mailingProgress", {"id": mailing_id}, owner),
        ("mailingReport", {"id": mailing_id}, owner),
        ("clientPicker", {"search": "@"}, owner),
        ("mailingClients", {"id": mailing_id}, owner),
        ("managerStats", {}, manager),
        ("managerMailings", {}, manager),
        ("managerUsers", {}, manager),
        ("managerDisableMailing", {"id": mailing_id}, manager),
        ("managerEnableMailing", {"id": mailing_id}, manager),
        ("managerBlockUser", {"id": owner_id, "reason": "spam"}, manager),
        ("managerUnblockUser", {"id": owner_id}, manager),
        ("managerNeedsReview", {}, manager),
        ("managerSetSendQuota", {"id": sender_id, "quota": 500}, manager),
        ("managerResumeSending", {"id": sender_id}, manager),
        ("managerBlockSender", {"id": sender_id, "reason": "spam"}, manager),
    ]
    assert {f"{name}.graphql" for name, _, _ in calls} == {path.name for path in OPERATIONS.glob("*.graphql")}
    for name, variables, user in calls:
        status, body = gql(operation(name), variables, user=user)
        assert status == 200 and "errors" not in body, (name, body)
        payload = next(iter(body["data"].values()))
        assert payload is not None and (not isinstance(payload, dict) or not payload.get("errors")), (
            name,
            body,
        )
    owner.refresh_from_db()  # the block raised its token generation: a token from before it is refused
    status, body = gql(
        "mutation C($input: ClientInput!) { createClient(input: $input) { client { email } errors { code } } "
        "}",
        {"input": {"email": "api@example.org", "fullName": "Api Client"}},
        user=owner,
    )
    assert status == 200 and body["data"]["createClient"]["errors"] == [], body
    assert_quiet_outage(caplog, redis_down, at_least_calls=4)


# --- login throttling ----------------------------------------------------------------------


def login(client, email, password=DEFAULT_PASSWORD, address=HERE):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_with_redis_down_still_lock_the_pair(client, redis_down, settings, caplog):
    """Axes's cache handler read every count as 0 while Redis was down, so guessing went on
    unthrottled; the failures now count in the database and the 5th locks the pair (429), even for the right
    password, while another account from the same address is not locked."""
    caplog.set_level(logging.INFO)
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(email="victim@example.com")
    UserFactory(email="colleague@example.com")
    statuses = [login(client, "victim@example.com", "guess").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert login(client, "victim@example.com").status_code == 429
    assert "_auth_user_id" not in client.session
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == 5
    assert login(client, "colleague@example.com").status_code == 302
    assert_quiet_outage(caplog, redis_down, at_least_calls=5)


def test_graphql_token_auth_is_throttled_with_redis_down(redis_down, settings):
    """The API's sign-in goes through the same counts: the 5th wrong password locks the pair,
    and then the right one gets no token either."""
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(email="api@example.com")
    query = (
        "mutation S($e: String!, $p: String!) { tokenAuth(email: $e, password: $p) { token errors { code } } "
        "}"
    )
    codes = []
    for password in ["guess"] * 5 + [DEFAULT_PASSWORD]:
        status, body = gql(query, {"e": "api@example.com", "p": password})
        assert status == 200 and body["data"] == {"tokenAuth": None}, body
        codes.append(error_codes(body))
    assert codes == [["UNAUTHENTICATED"]] * 4 + [["TOO_MANY_REQUESTS"]] * 2


# --- sending -------------------------------------------------------------------------------


def test_sending_goes_on_and_the_breaker_holds_with_redis_down(smtp, redis_down, settings, caplog):
    """R-SEND-5: with Redis down a pass sends; when the SMTP server goes down the breaker opens
    and the next passes leave it alone for the cooldown (it used to forget, and hit the server every pass);
    five passes log one cache line and no traceback."""
    caplog.set_level(logging.INFO)
    sent = due_mailing(clients=4)
    assert send_due().sent == 4
    assert {d.status for d in sent.deliveries.all()} == {"sent"}

    settings.EMAIL_PORT = closed_port()
    due_mailing(clients=6)
    first = send_due()
    assert first.retrying == 3 and "connection failures in a row" in first.breaker
    tried = DeliveryAttempt.objects.count()
    for _ in range(4):
        later = send_due()
        assert later.retrying == 0 and "left alone until" in later.breaker
    assert DeliveryAttempt.objects.count() == tried
    assert BreakerState.objects.get().open_until > timezone.now() + dt.timedelta(seconds=50)
    assert_quiet_outage(caplog, redis_down, at_least_calls=1)


# --- a private Redis that goes away and comes back --------------------------------------


class PrivateRedis:
    """A throw-away redis-server on a free loopback port; `stop` saves its data, `start` loads it again."""

    def __init__(self, directory: Path):
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "save"], check=False, capture_output=True
        )
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        pytest.skip("redis-server is not installed: the recovery of a Redis outage is not tested here")
    server = PrivateRedis(tmp_path)
    server.start()
    with caches_at(server.url):
        yield server
    AxesProxyHandler.get_implementation(force=True)
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def test_an_outage_is_one_warning_and_its_end_one_info_line_and_lost_invalidations_are_replayed(
    client, private_redis, caplog
):
    """R-CACHE-1: the home page's counts are cached; Redis stops; a new mailing's invalidation of
    those counts is lost; Redis comes back with the old counts in it. The first cache call after the outage
    replays the invalidation, so the home page shows the new count, and the log has exactly two lines."""
    caplog.set_level(logging.INFO)
    cache = caches["default"]
    assert client.get("/").status_code == 200
    cached = cache.get(STATS_KEY)
    assert cached is not None and cached["mailings"] == 0

    private_redis.stop()
    owner_world()  # a mailing: its post_save deletes the cached counts, which cannot reach Redis
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert cache.outage.is_down

    private_redis.start()
    time.sleep(0.3)  # past OUTAGE_RETRY_SECONDS
    assert client.get("/").status_code == 200
    assert not cache.outage.is_down
    assert cache.get(STATS_KEY)["mailings"] == 1
    lines = [(record.levelname, record.getMessage()) for record in cache_lines(caplog)]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert "is back after" in lines[1][1] and "1 lost invalidations replayed" in lines[1][1]
    assert not [record for record in caplog.records if record.exc_info]


def test_failures_counted_during_an_outage_still_count_when_redis_is_back(client, private_redis, settings):
    """2 guesses while Redis is down (counted in the database) and 3 after it is back (counted
    in Redis) add up to the pair's limit of 5."""
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(email="victim@example.com")
    private_redis.stop()
    assert [login(client, "victim@example.com", "guess").status_code for _ in range(2)] == [200, 200]
    private_redis.start()
    time.sleep(0.3)
    assert [login(client, "victim@example.com", "guess").status_code for _ in range(3)] == [200, 200, 429]
    assert login(client, "victim@example.com").status_code == 429


# --- a Redis that accepts connections and never answers --------------------------------


def test_a_silent_redis_costs_one_timeout_per_retry_interval_not_one_per_call(settings):
    """A Redis host that stopped answering (a listener that never replies) made every cache
    call wait SOCKET_TIMEOUT; after one failed call the next ones within OUTAGE_RETRY_SECONDS fail at once,
    without connecting. Counted by the connections the silent server gets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    listener.settimeout(0.05)
    accepted = []

    def connections() -> int:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                return len(accepted)

    location = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    caches_setting = redis_caches(location)
    caches_setting["default"]["OPTIONS"].update(SOCKET_TIMEOUT=0.3, OUTAGE_RETRY_SECONDS=60)
    settings.CACHES = caches_setting
    cache = caches["default"]
    try:
        assert [cache.get(f"key-{n}", "missed") for n in range(20)] == ["missed"] * 20
        assert cache.outage.is_down and cache.outage.failed_calls == 20
        assert connections() == 1
    finally:
        for connection in accepted:
            connection.close()
        listener.close()


# --- the sending pass's report of a lost database -----------------------------------------


class DriverError(Exception):
    """Stands in for psycopg2's exception, which carries the server's SQLSTATE as `pgcode`."""

    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


def from_driver(pgcode):
    from django.db import OperationalError

    error = OperationalError(f"driver said {pgcode}")
    error.__cause__ = DriverError(pgcode)
    return error


def test_what_counts_as_the_database_gone():
    """A lost connection (no SQLSTATE, class 08, a shutdown's 57P01, too many connections) is
    an outage; a deadlock or a broken statement is a bug to see with its traceback."""
    from django.db import IntegrityError, InterfaceError

    from backend.mailings.sending.failures import database_unreachable

    gone = [from_driver(None), from_driver("08006"), from_driver("57P01"), from_driver("53300")]
    gone.append(InterfaceError("connection already closed"))
    assert [database_unreachable(error) for error in gone] == [True] * 5
    bugs = [from_driver("40P01"), IntegrityError("duplicate key"), ValueError("bug")]
    assert [database_unreachable(error) for error in bugs] == [False] * 3


def test_a_lost_database_is_one_clause_of_the_pass_summary_and_a_bug_keeps_its_traceback(caplog):
    """Four workers stopped by the same restart make one clause and no log record; an
    unexpected error is still logged with its traceback and counted as "see the log"."""
    from backend.mailings.sending.summary import PassSummary

    summary = PassSummary()
    for _ in range(4):
        summary.fail("a worker", from_driver("57P01"))
    assert caplog.records == []
    assert len(summary.errors) == 4
    assert str(summary).endswith(
        "; the database went away (driver said 57P01): stopped, the next pass carries on"
    )
    try:
        raise ValueError("simulated bug")
    except ValueError as exc:
        summary.fail("step finish", exc)
    assert [record.exc_info is not None for record in caplog.records] == [True]
    assert str(summary).endswith("the next pass carries on; errors: 1 (see the log)")
