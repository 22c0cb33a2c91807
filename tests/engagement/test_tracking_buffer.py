"""R-ENG-2: the endpoints' buffer on a real Redis (db 9 unless TRACKING_TEST_REDIS_URL says otherwise), the
drain that loses nothing when a process dies mid-way and stores nothing twice, the fallback while Redis is
down, and which events count as a machine's."""

import datetime as dt
import os

import pytest
import redis
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.mailings.models import Client, EngagementEvent
from backend.mailings.tracking import buffer
from backend.mailings.tracking.machines import is_machine, machine_agent
from tests.engagement.helpers import CLICK, PIXEL, html_for, path_of, sent_deliveries, tracked_mailing
from tests.fakes.smtp import closed_port

pytestmark = pytest.mark.django_db

REDIS = os.environ.get("TRACKING_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def caches_at(location: str) -> dict:
    options = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, "OUTAGE_RETRY_SECONDS": 0.2}
    alias = {"BACKEND": "backend.cache.ResilientRedisCache", "LOCATION": location, "KEY_PREFIX": "mailer"}
    return {
        "default": {**alias, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}},
        "throttle": {**alias, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": False}},
    }


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://mailer.example.com"


@pytest.fixture
def real_redis():
    server = redis.Redis.from_url(REDIS)
    try:
        server.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS}")
    server.flushdb()
    with override_settings(CACHES=caches_at(REDIS)):
        yield server
    server.flushdb()


@pytest.fixture
def sent():
    mailing = tracked_mailing()
    deliveries = sent_deliveries(mailing)
    return mailing, deliveries, html_for(mailing, deliveries[0])


def queued(server) -> int:
    return server.llen("mailer:1:" + buffer.QUEUE)


def test_r_eng_2_with_redis_an_open_is_one_rpush_and_no_query_until_the_drain(client, real_redis, sent):
    _, deliveries, html = sent
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path_of(PIXEL.findall(html)[0]), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200 and queries.captured_queries == []
    with CaptureQueriesContext(connection) as queries:
        client.get(path_of(CLICK.findall(html)[0]), HTTP_USER_AGENT=BROWSER)  # its link now cached
        client.get(path_of(CLICK.findall(html)[0]), HTTP_USER_AGENT=BROWSER)
    assert len(queries.captured_queries) == 1
    assert queued(real_redis) == 3 and EngagementEvent.objects.count() == 0

    assert buffer.drain() == 3
    assert queued(real_redis) == 0
    assert sorted(EngagementEvent.objects.values_list("kind", flat=True)) == ["click", "click", "open"]
    client_row = Client.objects.get(pk=deliveries[0].client_id)
    assert client_row.last_opened_at and client_row.last_clicked_at


def test_r_eng_2_a_drain_that_dies_after_taking_loses_nothing(real_redis, sent):
    """The lines taken onto the processing list stay there until stored; the next drain stores them."""
    _, deliveries, _ = sent
    for delivery in deliveries:
        buffer.record("open", delivery.pk, None, BROWSER)
    queue, processing = "mailer:1:" + buffer.QUEUE, "mailer:1:" + buffer.PROCESSING
    taken = real_redis.eval(buffer._TAKE, 2, queue, processing, 1000)  # the take, then the process dies
    assert len(taken) == 2 and queued(real_redis) == 0 and real_redis.llen(processing) == 2
    buffer.record("open", deliveries[0].pk, None, BROWSER)  # meanwhile a new one arrives

    assert buffer.drain() == 3
    assert EngagementEvent.objects.count() == 3 and real_redis.llen(processing) == 0


def test_r_eng_2_a_drain_that_dies_after_inserting_stores_nothing_twice(real_redis, sent):
    _, deliveries, _ = sent
    buffer.record("open", deliveries[0].pk, None, BROWSER)
    queue, processing = "mailer:1:" + buffer.QUEUE, "mailer:1:" + buffer.PROCESSING
    taken = real_redis.eval(buffer._TAKE, 2, queue, processing, 1000)
    buffer.store(taken)  # inserted; the process dies before it deletes the processing list
    buffer.drain()
    buffer.store(taken)
    assert EngagementEvent.objects.count() == 1


def test_r_eng_2_one_drain_at_a_time(real_redis, sent):
    _, deliveries, _ = sent
    buffer.record("open", deliveries[0].pk, None, BROWSER)
    real_redis.set("mailer:1:" + buffer.LOCK, "another process", ex=60)
    assert buffer.drain() == 0 and queued(real_redis) == 1
    real_redis.delete("mailer:1:" + buffer.LOCK)
    assert buffer.drain() == 1


def test_r_eng_2_the_drain_works_in_batches(real_redis, sent, settings):
    _, deliveries, _ = sent
    settings.TRACKING_DRAIN_BATCH = 2
    for _ in range(5):
        buffer.record("open", deliveries[1].pk, None, BROWSER)
    assert buffer.drain(batches=2) == 4 and queued(real_redis) == 1
    assert buffer.drain() == 1


def test_r_eng_2_unreadable_lines_are_dropped_not_fatal(real_redis, sent):
    _, deliveries, _ = sent
    real_redis.rpush("mailer:1:" + buffer.QUEUE, b"not json", b'["k","open"]')
    buffer.record("open", deliveries[0].pk, None, BROWSER)
    assert buffer.drain() == 1 and EngagementEvent.objects.count() == 1


def test_r_eng_2_while_redis_is_down_events_are_stored_at_once_and_nothing_fails(client, sent):
    _, _, html = sent
    with override_settings(CACHES=caches_at(f"redis://127.0.0.1:{closed_port()}/0")):
        assert client.get(path_of(PIXEL.findall(html)[0]), HTTP_USER_AGENT=BROWSER).status_code == 200
        response = client.get(path_of(CLICK.findall(html)[0]), HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 302
        assert buffer.drain() == 0
    assert sorted(EngagementEvent.objects.values_list("kind", flat=True)) == ["click", "open"]


# --- machines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0",
        "",
        "Barracuda Sentinel (EE)",
        "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
        "Mimecast-URL-Protect",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) BingPreview/1.0b",
        "python-requests/2.31.0",
    ],
)
def test_r_eng_2_known_proxies_and_scanners_are_machines(agent):
    assert machine_agent(agent)


def test_r_eng_2_a_browser_is_a_person_unless_it_is_too_fast():
    sent_at = timezone.now()
    assert not machine_agent(BROWSER)
    assert is_machine("open", BROWSER, sent_at + dt.timedelta(seconds=1), sent_at)
    assert not is_machine("open", BROWSER, sent_at + dt.timedelta(seconds=30), sent_at)
    assert is_machine("click", BROWSER, sent_at + dt.timedelta(milliseconds=500), sent_at)
    assert not is_machine("click", BROWSER, sent_at + dt.timedelta(seconds=5), sent_at)
    assert not is_machine("open", BROWSER, sent_at, None)


def test_r_eng_2_machine_opens_are_stored_apart_and_do_not_move_the_client(sent):
    _, deliveries, _ = sent
    fresh = sent_deliveries(tracked_mailing(clients=1), sent_ago=dt.timedelta(0))[0]
    buffer.record("open", deliveries[0].pk, None, "Mozilla/5.0 (compatible; Proofpoint URL Defense)")
    buffer.record("open", fresh.pk, None, BROWSER)  # within a second of its send
    buffer.record("open", deliveries[1].pk, None, BROWSER)
    buffer.drain()  # with REDIS_URL set; without it they were stored at once
    flags = dict(EngagementEvent.objects.values_list("delivery_id", "is_machine"))
    assert flags == {deliveries[0].pk: True, fresh.pk: True, deliveries[1].pk: False}
    opened = dict(Client.objects.values_list("pk", "last_opened_at"))
    assert opened[deliveries[0].client_id] is None and opened[fresh.client_id] is None
    assert opened[deliveries[1].client_id] is not None
