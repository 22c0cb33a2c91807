"""Public sign-up with double opt-in (R-ENG-1): a visitor's address gets a confirmation mail, nothing is
stored until the link is followed, then the client exists with the form's tags and a recorded consent."""

import datetime as dt
import re

import pytest
from django.core import mail, signing
from django.test import Client as HttpClient
from django.utils import timezone

from backend.mailings import selectors
from backend.mailings.models import Client, ClientTag, Consent, Suppression, Unsubscription
from backend.mailings.services import signups
from tests.factories import ClientFactory, TagFactory
from tests.senders_helpers import confirmed_identity

from .signup_helpers import (
    VISITOR,
    confirm_path,
    make_form,
    past_token,
    post_signup,
    subscribe_url,
    tagged_form,
)

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    """A page without its per-render CSRF tokens (the layout's language and sign-out forms)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_a_cross_origin_post_mails_a_link_and_confirming_makes_a_tagged_client_with_consent_R_ENG_1(settings):
    """The whole path, from a page on another site (no CSRF token: the browser's Origin is that site's)."""
    settings.SITE_URL = "https://mailer.example.com"
    form, news, offers = tagged_form()
    TagFactory(owner=form.owner, name="not given")
    browser = HttpClient(enforce_csrf_checks=True)

    response = post_signup(
        browser, form, "Reader@Example.org", HTTP_ORIGIN="https://shop.example", full_name="Ann Reader"
    )

    assert response.status_code == 302
    assert response["Location"] == f"/subscribe/{form.public_id}/sent/"
    page = browser.get(response["Location"])
    assert page.status_code == 200 and "Check your mail" in page.content.decode()
    assert not Client.objects.exists() and not Consent.objects.exists()  # nothing before confirmation
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["Reader@example.org"]
    assert sent.subject == "Confirm your subscription: Get our news"
    assert "I agree to receive the monthly newsletter." in sent.body
    assert "https://mailer.example.com/subscribe/" in sent.body
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"

    path = confirm_path(sent)
    shown = browser.get(path, HTTP_USER_AGENT="Scanner/1.0")
    assert shown.status_code == 200
    assert 'id="confirm-button"' in shown.content.decode() and "Reader@example.org" in shown.content.decode()
    assert not Client.objects.exists()  # a GET (a mail scanner) confirms nothing

    done = browser.post(path, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Firefox/140")
    assert done.status_code == 200
    assert "Welcome aboard!" in done.content.decode()
    client = Client.objects.get()
    assert (client.owner, client.email, client.full_name) == (form.owner, "Reader@example.org", "Ann Reader")
    assert client.unsubscribed_at is None
    assert set(client.tags.all()) == {news, offers}
    consent = Consent.objects.get()
    assert consent.client == client and consent.form == form and consent.owner == form.owner
    assert consent.email == "Reader@example.org"
    assert consent.text == "I agree to receive the monthly newsletter."
    assert consent.requested_ip == VISITOR and consent.confirmed_ip == "198.51.100.7"
    assert consent.user_agent == "Firefox/140"
    assert consent.requested_at <= consent.confirmed_at <= timezone.now()
    assert timezone.now() - consent.requested_at < dt.timedelta(minutes=1)


def test_confirming_twice_is_harmless_R_ENG_1(client):
    form, _news, _offers = tagged_form()
    post_signup(client, form, "twice@example.org")
    path = confirm_path(mail.outbox[0])
    assert client.post(path).status_code == 200
    again = client.post(path)
    assert again.status_code == 200 and "Welcome aboard!" in again.content.decode()
    assert Client.objects.count() == 1 and Consent.objects.count() == 1
    assert ClientTag.objects.count() == 2


def test_the_mail_arrives_in_the_dev_file_outbox_R_ENG_1(client, settings, tmp_path):
    """Without EMAIL_HOST the development setup writes mail as files (var/outbox/)."""
    settings.EMAIL_HOST = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    form = make_form()
    assert post_signup(client, form, "file@example.org").status_code == 302
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert "To: file@example.org" in text and f"/subscribe/{form.public_id}/confirm/" in text


def test_the_mail_comes_from_the_forms_sender_identity_else_the_owners_first_usable_one_R_ENG_1(
    client, settings
):
    form = make_form()
    first = confirmed_identity(form.owner, "news@shop.example", from_name="Shop News")
    post_signup(client, form, "a@example.org")
    assert mail.outbox[-1].message()["From"] == "Shop News <news@shop.example>"
    assert mail.outbox[-1].from_email == settings.DEFAULT_FROM_EMAIL  # the envelope: the operator's
    chosen = confirmed_identity(
        form.owner, "hello@shop.example", from_name="Hello", reply_to="desk@shop.example"
    )
    form.sender = chosen
    form.save()
    post_signup(client, form, "b@example.org")
    assert mail.outbox[-1].message()["From"] == "Hello <hello@shop.example>"
    assert mail.outbox[-1].reply_to == ["desk@shop.example"]
    assert first.pk != chosen.pk


def test_an_address_already_subscribed_gets_a_mail_and_the_visitor_the_same_page_R_ENG_1(client):
    form, news, _offers = tagged_form()
    existing = ClientFactory(owner=form.owner, email="known@example.org")
    new = post_signup(client, form, "stranger@example.org")
    known = post_signup(client, form, "known@example.org")
    assert (known.status_code, known["Location"]) == (new.status_code, new["Location"])
    assert page_text(client.get(known["Location"])) == page_text(client.get(new["Location"]))
    assert len(mail.outbox) == 2
    body = mail.outbox[1].body
    assert "already subscribed" in body
    assert "/preferences/" in body and "/preferences/" not in mail.outbox[0].body
    # Confirming adds this form's tags to the client already there.
    client.post(confirm_path(mail.outbox[1]))
    assert Client.objects.filter(email__iexact="known@example.org").count() == 1
    assert news in existing.tags.all()


def test_a_person_who_unsubscribed_or_was_erased_subscribes_again_by_their_own_confirmation_R_ENG_1(client):
    form = make_form()
    left = ClientFactory(owner=form.owner, email="back@example.org", unsubscribed_at=timezone.now())
    Unsubscription.objects.create(owner=form.owner, email="back@example.org")
    Suppression.objects.create(owner=form.owner, email_hash=selectors.email_hash(" Erased@Example.org "))
    post_signup(client, form, "back@example.org")
    post_signup(client, form, "erased@example.org")
    assert "already subscribed" not in mail.outbox[0].body
    for message in mail.outbox:
        assert client.post(confirm_path(message)).status_code == 200
    left.refresh_from_db()
    assert left.unsubscribed_at is None
    assert not Unsubscription.objects.filter(owner=form.owner).exists()
    assert not Suppression.objects.filter(owner=form.owner).exists()
    assert Client.objects.filter(owner=form.owner, email="erased@example.org").exists()


def test_the_honeypot_gets_the_usual_page_and_no_mail_R_ENG_1(client):
    form = make_form()
    response = post_signup(client, form, "bot@example.org", data={"website": "http://spam.example"})
    assert response.status_code == 302 and response["Location"].endswith("/sent/")
    assert mail.outbox == []


def test_an_address_asking_too_often_gets_no_more_mail_and_the_usual_page_R_ENG_1(client, settings):
    settings.SIGNUP_REQUESTS_PER_ADDRESS = 2
    form = make_form()
    for n in range(3):
        response = post_signup(client, form, "often@example.org", ip=f"198.51.100.{n + 1}")
        assert response.status_code == 302 and response["Location"].endswith("/sent/")
    assert len(mail.outbox) == 2
    post_signup(client, form, "other@example.org", ip="198.51.100.9")
    assert len(mail.outbox) == 3


def test_a_visitor_asking_too_often_is_told_to_wait_R_ENG_1(client, settings):
    settings.SIGNUP_REQUESTS_PER_IP = 2
    form = make_form()
    post_signup(client, form, "one@example.org")
    post_signup(client, form, "two@example.org")
    refused = post_signup(client, form, "three@example.org")
    assert refused.status_code == 429
    assert "Too many sign-ups from your network" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert len(mail.outbox) == 2
    assert post_signup(client, form, "three@example.org", ip="192.0.2.44").status_code == 302
    assert len(mail.outbox) == 3


def test_an_oversized_post_is_refused_with_413_and_sends_nothing_R_ENG_1(client, settings):
    form = make_form()
    response = post_signup(
        client, form, "big@example.org", data={"comment": "x" * (settings.SIGNUP_MAX_BODY_BYTES + 1)}
    )
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b@example.org", "x" * 250 + "@example.org"])
def test_a_bad_address_is_answered_on_the_form_and_sends_nothing_R_ENG_1(client, email):
    form = make_form()
    response = post_signup(client, form, email)
    assert response.status_code == 400
    assert (
        'id="signup-email"' in response.content.decode() and "invalid-feedback" in response.content.decode()
    )
    assert mail.outbox == []


def test_an_unknown_or_inactive_form_says_so_and_sends_nothing_R_ENG_1(client):
    assert client.get("/subscribe/nope/").status_code == 404
    assert client.post("/subscribe/nope/", {"email": "a@example.org"}).status_code == 404
    form = make_form(is_active=False)
    page = client.get(subscribe_url(form))
    assert page.status_code == 403 and "does not take sign-ups" in page.content.decode()
    assert 'id="signup-form"' not in page.content.decode()
    assert post_signup(client, form, "a@example.org").status_code == 403
    assert mail.outbox == []


def test_a_form_closed_or_deleted_after_the_mail_confirms_nothing_R_ENG_1(client):
    form = make_form()
    post_signup(client, form, "late@example.org")
    path = confirm_path(mail.outbox[0])
    form.is_active = False
    form.save()
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 403 and "does not take sign-ups" in response.content.decode()
    form.delete()
    assert client.post(path).status_code == 403
    assert not Client.objects.exists() and not Consent.objects.exists()


def test_a_changed_consent_text_makes_older_links_ask_again_R_ENG_1(client):
    form = make_form()
    post_signup(client, form, "x@example.org")
    form.consent_text = "Now we also share your address."
    form.save()
    response = client.post(confirm_path(mail.outbox[0]))
    assert response.status_code == 409 and "sign up again" in response.content.decode()
    assert not Client.objects.exists()


def test_forged_expired_and_foreign_links_are_refused_and_change_nothing_R_ENG_1(client, settings):
    form, other = make_form(), make_form()
    post_signup(client, form, "x@example.org")
    path = confirm_path(mail.outbox[0])
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    payload = [
        form.pk,
        "x@example.org",
        "",
        int(timezone.now().timestamp()),
        "",
        signups.text_digest(form.consent_text),
    ]
    expired = past_token(payload, days_ago=settings.SIGNUP_CONFIRM_DAYS + 1)
    fresh = past_token(payload, days_ago=settings.SIGNUP_CONFIRM_DAYS - 1)
    other_salt = signing.dumps(payload, salt="mailer.other")
    cases = {
        f"/subscribe/{form.public_id}/confirm/{forged}/": 400,
        f"/subscribe/{form.public_id}/confirm/garbage/": 400,
        f"/subscribe/{form.public_id}/confirm/{'x' * 3000}/": 400,
        f"/subscribe/{form.public_id}/confirm/{other_salt}/": 400,  # signed, but not for this purpose
        f"/subscribe/{other.public_id}/confirm/{token}/": 400,  # another form's link
        f"/subscribe/{form.public_id}/confirm/{expired}/": 410,
    }
    for url, status in cases.items():
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == status, url
            assert 'data-testid="confirm-error"' in response.content.decode()
    assert not Client.objects.exists() and not Consent.objects.exists()
    assert client.post(f"/subscribe/{form.public_id}/confirm/{fresh}/").status_code == 200
    assert Client.objects.count() == 1


def test_confirmation_mails_count_in_the_owners_quota_and_a_full_quota_refuses_alike_R_ENG_1(
    client, settings
):
    from backend.mailings import limits

    form = make_form()
    form.owner.send_quota_daily = 1
    form.owner.save()
    ClientFactory(owner=form.owner, email="known@example.org")
    assert post_signup(client, form, "first@example.org").status_code == 302
    assert limits.sent_today(form.owner) == 1
    unknown = post_signup(client, form, "second@example.org")
    known = post_signup(client, form, "known@example.org")
    assert unknown.status_code == known.status_code == 503
    assert "cannot take more sign-ups today" in unknown.content.decode()
    assert page_text(unknown) == page_text(known).replace("known@example.org", "second@example.org")
    assert len(mail.outbox) == 1


def test_a_mail_server_that_refuses_gives_the_quota_back_R_ENG_1(client, settings):
    from backend.mailings import limits

    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # nothing listens: connection refused
    settings.EMAIL_TIMEOUT = 2
    form = make_form()
    form.owner.send_quota_daily = 5
    form.owner.save()
    response = post_signup(client, form, "a@example.org")
    assert response.status_code == 503 and "could not be sent" in response.content.decode()
    assert limits.sent_today(form.owner) == 0


def test_the_sign_up_post_takes_a_fixed_number_of_queries_R_ENG_1(client, django_assert_max_num_queries):
    form, _news, _offers = tagged_form()
    post_signup(client, form, "warm@example.org")
    # The form, two rate counters, the quota's four statements, the address's client and the sender (one
    # more when the address is a client: the unsubscribe list), plus the savepoints of three atomic blocks,
    # whatever the owner's list holds.
    with django_assert_max_num_queries(15):
        post_signup(client, form, "q@example.org")


@pytest.mark.parametrize("state", ["blocked", "inactive", "paused"])
def test_a_form_of_an_owner_who_cannot_send_takes_no_sign_ups_R_ENG_1(client, state):
    form = make_form()
    post_signup(client, form, "early@example.org")
    path = confirm_path(mail.outbox[0])
    owner = form.owner
    if state == "blocked":
        owner.is_blocked = True
    elif state == "inactive":
        owner.is_active = False
    else:
        owner.sending_paused_at = timezone.now()
    owner.save()
    assert client.get(subscribe_url(form)).status_code == 403
    assert post_signup(client, form, "late@example.org").status_code == 403
    assert client.post(path).status_code == 403
    assert len(mail.outbox) == 1 and not Client.objects.exists()
