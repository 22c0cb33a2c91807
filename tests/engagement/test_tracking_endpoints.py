"""R-ENG-2: the open pixel and the click redirect. A valid token answers (a GIF, a 302 to exactly the
stored URL) and its event is stored; a forged, truncated, re-spelled or foreign token gets a clear 404 and
records nothing; no session, no cookie; HEAD answers without counting.

Here without Redis (the test settings' local-memory cache unless REDIS_URL is set): events are stored at
once. The Redis buffer has its own tests (test_tracking_buffer.py)."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.mailings.models import Client, EngagementEvent, TrackedLink
from backend.mailings.tracking import buffer
from backend.mailings.tracking.tokens import signer
from backend.web import tracking
from backend.web.tracking import PIXEL as GIF
from tests.engagement.helpers import CLICK, PIXEL, html_for, path_of, sent_deliveries, tracked_mailing

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://mailer.example.com"


@pytest.fixture
def sent():
    mailing = tracked_mailing()
    deliveries = sent_deliveries(mailing)
    html = html_for(mailing, deliveries[0])
    return mailing, deliveries, html


def stored() -> list[tuple]:
    buffer.drain()
    return list(EngagementEvent.objects.order_by("pk").values_list("kind", "delivery_id", "link_id"))


def test_r_eng_2_an_open_answers_a_gif_without_a_session_and_is_recorded(client, sent):
    mailing, deliveries, html = sent
    response = client.get(path_of(PIXEL.findall(html)[0]), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content == GIF and "no-cache" in response["Cache-Control"]
    assert not response.cookies
    assert stored() == [("open", deliveries[0].pk, None)]
    event = EngagementEvent.objects.get()
    assert (event.mailing_id, event.occurrence_id, event.is_machine) == (
        mailing.pk,
        deliveries[0].occurrence_id,
        False,
    )
    assert event.user_agent == BROWSER
    assert Client.objects.get(pk=deliveries[0].client_id).last_opened_at == event.at


def test_r_eng_2_a_click_redirects_to_exactly_the_stored_url_and_is_recorded(client, sent):
    mailing, deliveries, html = sent
    response = client.get(path_of(CLICK.findall(html)[0]), HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/sale?a=1&b=2"
    assert not response.cookies
    link = TrackedLink.objects.get(mailing=mailing, url="https://shop.example.com/sale?a=1&b=2")
    assert stored() == [("click", deliveries[0].pk, link.pk)]
    client_row = Client.objects.get(pk=deliveries[0].client_id)
    assert client_row.last_clicked_at is not None and client_row.last_opened_at is None


def test_r_eng_2_head_answers_like_get_and_records_nothing(client, sent):
    _, _, html = sent
    assert client.head(path_of(PIXEL.findall(html)[0])).status_code == 200
    response = client.head(path_of(CLICK.findall(html)[0]))
    assert response.status_code == 302 and response["Location"].startswith("https://shop.example.com/")
    assert stored() == []


def test_r_eng_2_other_methods_are_refused(client, sent):
    _, _, html = sent
    assert client.post(path_of(CLICK.findall(html)[0])).status_code == 405
    assert client.post(path_of(PIXEL.findall(html)[0])).status_code == 405
    assert stored() == []


def _bad_click_tokens(mailing, deliveries, other_link) -> dict[str, str]:
    link = TrackedLink.objects.filter(mailing=mailing).first()
    good = signer().click_token(deliveries[0].pk, link.pk)
    ids, mac = good.rsplit("-", 1)[0], good.split("-", 2)[2]
    return {
        "forged mac": f"{ids}-{'A' * len(mac)}",
        "truncated": good[:-3],
        "no mac": ids,
        "other delivery, same mac": f"{deliveries[1].pk:x}-{link.pk:x}-{mac}",
        "other link, same mac": f"{deliveries[0].pk:x}-{other_link.pk:x}-{mac}",
        "re-spelled id": f"0{good}",
        "upper-case hex": good.upper(),
        "open token as click": signer().open_token(deliveries[0].pk),
        "garbage": "zz-yy-xx",
        "empty parts": "--",
    }


def test_r_eng_2_bad_click_tokens_get_a_clear_404_and_record_nothing(client, sent):
    mailing, deliveries, _ = sent
    other = tracked_mailing(owner=mailing.owner)
    html_for(other, sent_deliveries(other)[0])
    other_link = TrackedLink.objects.filter(mailing=other).first()
    for name, token in _bad_click_tokens(mailing, deliveries, other_link).items():
        response = client.get(f"/t/c/{token}/", HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 404, name
        assert "This link is not valid" in response.content.decode(), name
        assert "Location" not in response and not response.cookies
    assert stored() == []


def test_r_eng_2_a_token_pairing_a_delivery_with_another_mailings_link_is_never_stored(sent):
    """Even if such a pair reached the buffer (a signed token cannot carry it), storing drops it."""
    mailing, deliveries, _ = sent
    other = tracked_mailing(owner=mailing.owner)
    html_for(other, sent_deliveries(other)[0])
    foreign_link = TrackedLink.objects.filter(mailing=other).first()
    buffer.store([buffer._line("click", deliveries[0].pk, foreign_link.pk, dt.datetime.now(dt.UTC), BROWSER)])
    assert EngagementEvent.objects.count() == 0


def test_r_eng_2_bad_open_tokens_get_a_404_and_record_nothing(client, sent):
    _, deliveries, html = sent
    good = PIXEL.findall(html)[0].split("/t/o/")[1].removesuffix(".gif")
    link_token = CLICK.findall(html)[0].split("/t/c/")[1].rstrip("/")
    for token in [good[:-1], good + "A", f"{deliveries[1].pk:x}-{good.split('-', 1)[1]}", link_token, "x"]:
        response = client.get(f"/t/o/{token}.gif")
        assert response.status_code == 404, token
        assert response["Content-Type"].startswith("text/plain")
    assert stored() == []


def test_r_eng_2_a_click_of_a_deleted_mailing_is_a_404_not_a_500(client, sent):
    mailing, _, html = sent
    url = path_of(CLICK.findall(html)[0])
    open_url = path_of(PIXEL.findall(html)[0])
    mailing.delete()
    assert client.get(url).status_code == 404
    # The open of a delivery that is gone: the pixel answers, nothing is stored.
    assert client.get(open_url).status_code == 200
    assert EngagementEvent.objects.count() == 0


def test_r_eng_2_a_deleted_mailings_links_stop_once_the_remembered_address_expires(client, sent):
    mailing, _, html = sent
    url = path_of(CLICK.findall(html)[0])
    assert client.get(url).status_code == 302  # now remembered by this process and the shared cache
    mailing.delete()
    assert client.get(url).status_code == 302
    tracking._links.clear()  # a minute later in this process, an hour later in the shared cache
    cache.clear()
    assert client.get(url).status_code == 404


def test_r_eng_2_a_click_reads_its_link_once_then_from_the_cache_and_never_a_session(client, sent):
    _, _, html = sent
    url = path_of(CLICK.findall(html)[0])
    with CaptureQueriesContext(connection) as first:
        client.get(url, HTTP_USER_AGENT=BROWSER)
    with CaptureQueriesContext(connection) as second:
        client.get(url, HTTP_USER_AGENT=BROWSER)

    def link_reads(queries):
        return [q for q in queries if q["sql"].startswith('SELECT "mailings_trackedlink"."url"')]

    assert len(link_reads(first.captured_queries)) == 1 and link_reads(second.captured_queries) == []
    assert not [q for q in first.captured_queries + second.captured_queries if "django_session" in q["sql"]]
