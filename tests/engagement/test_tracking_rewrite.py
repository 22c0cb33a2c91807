"""R-ENG-2: the HTML body's links become signed redirects once per occurrence, an open pixel per delivery;
the plain text, mailto:, tel:, anchors, per-recipient links and the footer's links stay as written."""

import re

import pytest

from backend.mailings.compose import PreparedMessage
from backend.mailings.models import TrackedLink
from backend.mailings.tracking.tokens import signer
from tests.engagement.helpers import CLICK, PIXEL, TEXT, html_for, sent_deliveries, tracked_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://mailer.example.com"


def test_r_eng_2_html_links_are_rewritten_and_the_rest_kept():
    mailing = tracked_mailing()
    delivery = sent_deliveries(mailing)[0]
    html = html_for(mailing, delivery)

    links = dict(TrackedLink.objects.filter(mailing=mailing).values_list("url", "pk"))
    assert set(links) == {"https://shop.example.com/sale?a=1&b=2", "https://example.org/blog"}
    clicks = CLICK.findall(html)
    assert len(clicks) == 3  # the sale link twice (one stored link), the blog once
    assert clicks[0] == clicks[2] != clicks[1]
    sale = signer().verify_click(clicks[0].split("/t/c/")[1].rstrip("/"))
    assert (sale.delivery_id, sale.link_id) == (delivery.pk, links["https://shop.example.com/sale?a=1&b=2"])
    assert "shop.example.com" not in html and "example.org/blog" not in html
    assert 'href="mailto:help@example.com"' in html and 'href="tel:+4930123"' in html
    assert 'href="#top"' in html
    # A link with a placeholder differs per recipient: filled in, not tracked.
    assert f'href="https://example.org/u?e={delivery.client.email}"' in html
    # The footer's own links go straight to Mailer's pages.
    assert re.search(r'href="https://mailer\.example\.com/unsubscribe/[^"]+/">', html)
    assert re.search(r'href="https://mailer\.example\.com/preferences/[^"]+/">', html)
    pixel = PIXEL.findall(html)
    assert len(pixel) == 1 and html.rstrip().endswith(">")
    assert signer().verify_open(pixel[0].split("/t/o/")[1].removesuffix(".gif")).delivery_id == delivery.pk


def test_r_eng_2_the_plain_text_is_never_rewritten():
    mailing = tracked_mailing()
    delivery = sent_deliveries(mailing)[0]
    prepared = PreparedMessage(mailing.message, mailing=mailing)
    parts = prepared.parts(email="a@example.org", full_name="Anna", token="t", delivery_id=delivery.pk)
    assert parts.text.startswith(TEXT.replace("{first_name}", "Anna"))
    assert "/t/c/" not in parts.text and "/t/o/" not in parts.text


def test_r_eng_2_each_recipient_has_own_tokens_and_links_are_stored_once_per_mailing():
    mailing = tracked_mailing()
    first, second = sent_deliveries(mailing)
    one, two = html_for(mailing, first), html_for(mailing, second)
    assert set(CLICK.findall(one)).isdisjoint(CLICK.findall(two))
    assert PIXEL.findall(one) != PIXEL.findall(two)
    assert TrackedLink.objects.filter(mailing=mailing).count() == 2  # prepared twice, stored once


def test_r_eng_2_tracking_off_rewrites_nothing():
    mailing = tracked_mailing(tracking=False)
    html = html_for(mailing, sent_deliveries(mailing)[0])
    assert 'href="https://shop.example.com/sale?a=1&amp;b=2"' in html
    assert "/t/c/" not in html and "/t/o/" not in html
    assert not TrackedLink.objects.filter(mailing=mailing).exists()


def test_r_eng_2_a_text_only_message_gets_no_pixel():
    mailing = tracked_mailing(html="")
    prepared = PreparedMessage(mailing.message, mailing=mailing)
    parts = prepared.parts(email="a@example.org", full_name="A", token="t", delivery_id=1)
    assert parts.html == "" and "/t/" not in parts.text


def test_r_eng_2_a_preview_shows_the_original_links_and_no_pixel():
    """Without a delivery (preview, test send) nothing can be counted: the links lead straight on."""
    mailing = tracked_mailing()
    prepared = PreparedMessage(mailing.message, mailing=mailing)
    html = prepared.parts(email="a@example.org", full_name="A", token="t").html
    assert 'href="https://shop.example.com/sale?a=1&amp;b=2"' in html
    assert "/t/c/" not in html and "/t/o/" not in html


def test_r_eng_2_rewriting_keeps_the_rest_of_the_html_byte_for_byte():
    html = '<div>{first_name}</div><a\nhref = "https://x.example/p"\ntitle="t">X</a><A HREF=https://y.example/>Y</A>'
    mailing = tracked_mailing(html=html)
    prepared = PreparedMessage(mailing.message, mailing=mailing)
    out = prepared.parts(email="a@example.org", full_name="Anna B", token="t").html
    assert out.startswith(
        '<div>Anna</div><a\nhref = "https://x.example/p"\ntitle="t">X</a><A HREF="https://y.example/">Y</A>'
    )


def test_r_eng_2_an_href_inside_another_attribute_is_not_taken_for_the_link():
    html = '<a title="see href=https://evil.example/" href="https://good.example/">X</a>'
    mailing = tracked_mailing(html=html)
    delivery = sent_deliveries(mailing)[0]
    out = html_for(mailing, delivery)
    assert 'title="see href=https://evil.example/"' in out
    assert list(TrackedLink.objects.filter(mailing=mailing).values_list("url", flat=True)) == []
    assert "/t/c/" not in out


def test_a_tab_or_line_break_inside_an_href_is_dropped_as_browsers_drop_it():
    """Found in review: the stored address kept them and the redirect sent the reader to /long%0A/path."""
    from backend.mailings.models import TrackedLink
    from backend.mailings.tracking.rewrite import TrackedHtml
    from tests.factories import MailingFactory

    mailing = MailingFactory()
    TrackedHtml(mailing, '<a href="https://shop.example.com/long\n/pa\tth">x</a>')
    assert list(TrackedLink.objects.filter(mailing=mailing).values_list("url", flat=True)) == [
        "https://shop.example.com/long/path"
    ]
