"""R-ENG-2 end to end below the browser: the engine sends a tracked mailing to a real SMTP server on
loopback; the received message has the rewritten links and the pixel in its HTML part and the original text
part; following a link from it through the site records one click of that link."""

import pytest

from backend.mailings.models import Delivery, EngagementEvent, TrackedLink
from backend.mailings.sending import send_due
from backend.mailings.tracking import buffer
from tests.engagement.helpers import CLICK, HTML, PIXEL, TEXT, path_of
from tests.factories import MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def _parts(received) -> tuple[str, str]:
    message = received.message
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    return text, html


def test_r_eng_2_a_sent_message_carries_tracked_links_and_a_click_is_recorded(smtp, client):
    owner = UserFactory()
    message = MessageFactory(owner=owner, subject="Hi", body=TEXT, html_body=HTML)
    mailing = due_mailing(owner=owner, message=message, clients=2)
    assert send_due().sent == 2
    assert len(smtp.received) == 2

    text, html = _parts(smtp.received[0])
    assert "https://shop.example.com/sale?a=1&b=2" in text and "/t/c/" not in text
    clicks, pixel = CLICK.findall(html), PIXEL.findall(html)
    assert len(clicks) == 3 and len(pixel) == 1 and "shop.example.com" not in html
    other_clicks = CLICK.findall(_parts(smtp.received[1])[1])
    assert set(clicks).isdisjoint(other_clicks)

    response = client.get(path_of(clicks[1]), HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/121.0")
    assert response.status_code == 302 and response["Location"] == "https://example.org/blog"
    buffer.drain()
    event = EngagementEvent.objects.get()
    delivery = Delivery.objects.get(pk=event.delivery_id)
    assert smtp.received[0].rcpt_tos == [delivery.email]
    assert (event.kind, event.mailing_id, event.link.url) == ("click", mailing.pk, "https://example.org/blog")
    assert TrackedLink.objects.filter(mailing=mailing).count() == 2


def test_r_eng_2_a_mailing_with_tracking_off_is_sent_as_written(smtp):
    owner = UserFactory()
    message = MessageFactory(owner=owner, subject="Hi", body=TEXT, html_body=HTML)
    due_mailing(owner=owner, message=message, clients=1, tracking=False)
    assert send_due().sent == 1
    _, html = _parts(smtp.received[0])
    assert 'href="https://shop.example.com/sale?a=1&amp;b=2"' in html and "/t/" not in html
