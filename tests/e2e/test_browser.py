"""What a person does in a real browser: sign up, confirm, log in, read the home page, unsubscribe."""

import re

import pytest

from backend.mailings.unsubscribe import unsubscribe_url
from tests.blog_helpers import publish_article
from tests.factories import ClientFactory, MailingFactory
from tests.helpers import deliver_account_mail

from .waiting import wait_until

# serialized_rollback: the migrations' data (Wagtail tree, blog, roles) survive the flushes between tests.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
PASSWORD = "plum-Orchard-47-lantern"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_sign_up_confirm_and_log_in(live_server, page):
    """R-AUTH-1, R-AUTH-2, R-AUTH-3."""
    page.goto(live_server.url + "/")
    page.click("nav >> text=Sign up")
    page.fill("#id_email", "reader@example.com")
    page.fill("#id_full_name", "Reader One")
    page.fill("#id_password1", PASSWORD)
    page.click("main button[type=submit]")
    assert "Check your email" in page.inner_text("h1")

    link = re.search(r"https?://\S+/accounts/verify/\S+/", deliver_account_mail()[-1].body).group(0)
    page.goto(live_server.url + link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert "Confirm your email" in page.inner_text("h1")  # a GET confirms nothing
    page.click("[data-testid=confirm-email]")
    assert "reader@example.com is confirmed" in page.inner_text("main")
    # The browser that typed the password is signed in; the password works from anywhere else.
    assert page.inner_text("nav a[href='/accounts/profile/']").strip() == "reader@example.com"
    other = page.context.browser.new_context().new_page()
    other.goto(live_server.url + "/accounts/login/")
    other.fill("#id_username", "READER@example.com")
    other.fill("#id_password", PASSWORD)
    other.click("main button[type=submit]")
    assert other.inner_text("nav a[href='/accounts/profile/']").strip() == "reader@example.com"
    other.context.close()


def test_home_page_shows_counts_and_article_cards_with_images(live_server, page):
    """R-HOME-1: the counters and three cards whose images keep their shape."""
    client = ClientFactory()
    MailingFactory(owner=client.owner, clients=[client], status="started")
    for n in range(4):
        publish_article(f"Browser article {n}")
    page.goto(live_server.url + "/")
    assert page.inner_text("[data-testid=mailings]") == "1"
    assert page.inner_text("[data-testid=active-mailings]") == "1"
    assert page.inner_text("[data-testid=unique-clients]") == "1"
    cards = page.query_selector_all("[data-testid=articles] .card")
    assert len(cards) == 3
    for image in page.query_selector_all("[data-testid=articles] img"):
        image.scroll_into_view_if_needed()
        wait_until(page, "img => img.complete && img.naturalWidth > 0", arg=image)
        box = image.bounding_box()
        assert abs(box["width"] / box["height"] - 16 / 9) < 0.05


def test_unsubscribe_link_asks_then_unsubscribes(live_server, page):
    """R-SEND-8, R-SEND-9."""
    recipient = ClientFactory(email="leaving@example.org")
    path = "/" + unsubscribe_url(recipient.unsubscribe_token).split("://", 1)[1].split("/", 1)[1]
    page.goto(live_server.url + path)
    assert "Unsubscribe?" in page.inner_text("h1")
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None
    page.click("main button[type=submit]")
    assert "You are unsubscribed" in page.inner_text("h1")
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None
