"""Deliverability as a new owner meets it, in a real browser, with real SMTP servers on loopback (R-DLV-1 to
R-DLV-5): the owner adds a sender address and confirms it from the mailed link, publishes their domain's DKIM
record and checks it, and sends a daily mailing from that sender. The recipients' provider accepts every
message and afterwards mails a bounce (RFC 3464) for one address and a complaint (ARF) for another to the
message's return path, where the bounce reader's inbound SMTP endpoint stores them: the mail at the provider
carries the owner's From, a DKIM signature of their domain and of the operator that verify; the bounced client
is marked and skipped the next day, the complaining one is unsubscribed. Then a new account's quota stops its
first send part-way, and a burst of bounces pauses an owner, who shows on the manager dashboard."""

import datetime as dt
import time

import dkim
import pytest
from django.utils import timezone

from backend.accounts.models import User
from backend.mailings import services, signing, verp
from backend.mailings.bounces.readers import smtp_endpoint
from backend.mailings.models import Bounce, Client, Delivery, Mailing, Message, SenderDomain
from backend.mailings.sending import send_due
from tests.factories import DEFAULT_PASSWORD, ClientFactory, UserFactory
from tests.fakes.provider import BouncingProvider
from tests.fakes.smtp import free_port
from tests.senders_helpers import confirmation_token, dns_server

from .test_manager_dashboard import log_in as manager_log_in
from .test_manager_dashboard import make_managers_member, rows, wait_ready
from .test_owner_flow import record_errors

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
__all__ = ["dns_server"]

BOUNCE_DOMAIN = "bounces.mailer.test"


@pytest.fixture
def mail_world(settings, tmp_path):
    """The operator's DKIM key, the bounce reader's endpoint, and the recipients' provider as EMAIL_HOST."""
    key_file = tmp_path / "operator.pem"
    key_file.write_bytes(signing.generate_pem("rsa"))
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "mailer.test", "op1"
    settings.DKIM_PRIVATE_KEY_FILE = str(key_file)
    signing.operator_key.cache_clear()
    settings.BOUNCE_DOMAIN = BOUNCE_DOMAIN
    settings.BOUNCE_LOCAL_PART = "bounces"
    settings.SEND_QUOTA_DAILY = 1000
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 1000
    endpoint_port = free_port()
    endpoint = smtp_endpoint("127.0.0.1", endpoint_port)
    endpoint.start()
    provider = BouncingProvider(reports_to=("127.0.0.1", endpoint_port)).start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = provider.host, provider.port
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RETRY_BASE_SECONDS = 0
    yield provider
    provider.stop()
    endpoint.stop()
    settings.DKIM_PRIVATE_KEY_FILE = ""
    signing.operator_key.cache_clear()


def sign_in(page, base: str, user: User) -> None:
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_until_true(check, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still false after {timeout} s"
        time.sleep(0.05)


def once_to_everyone(owner: User, subject: str) -> Mailing:
    """A one-off mailing to everyone subscribed, due now, made through the service as the API does."""
    message = Message.objects.create(owner=owner, subject=subject, body=subject)
    now = timezone.localtime(timezone.now(), owner.tz)
    return services.mailing_create(
        actor=owner,
        data={
            "message": message.pk,
            "audience": Mailing.Audience.EVERYONE,
            "start_at": (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "end_at": (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "periodicity": Mailing.Periodicity.ONCE,
            "tag_match": Mailing.TagMatch.ANY,
        },
    )


def received_by(provider: BouncingProvider) -> list[str]:
    with provider.lock:
        recipients = sorted(r.lower() for item in provider.received for r in item.rcpt_tos)
        provider.received.clear()
    return recipients


def test_confirmed_sender_dkim_bounce_complaint_quota_and_pause_r_dlv(
    live_server, page, mail_world, dns_server, settings
):
    provider = mail_world
    base = live_server.url
    errors = record_errors(page)
    owner = UserFactory(email="owner@shop.test", first_name="Anna", last_name="Shop")
    owner.date_joined = timezone.now() - dt.timedelta(days=60)
    owner.save(update_fields=["date_joined"])
    sign_in(page, base, owner)

    # R-DLV-1: a sender address, usable once the link mailed to it is followed (a POST, not the GET).
    page.goto(base + "/senders/new/")
    page.fill("#id_from_name", "Shop News")
    page.fill("#id_from_email", "news@shop.test")
    page.fill("#id_reply_to", "help@shop.test")
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/senders/")
    assert page.locator("[data-testid=identities] tr[data-status=awaiting]").count() == 1
    wait_until_true(lambda: any("news@shop.test" in r.rcpt_tos for r in provider.received))
    (confirmation,) = [r for r in provider.received if "news@shop.test" in r.rcpt_tos]
    provider.received.clear()
    page.goto(base + f"/senders/confirm/{confirmation_token(confirmation)}/")
    page.click("[data-testid=confirm-button]")
    page.wait_for_selector("[data-testid=confirmed]")
    page.goto(base + "/senders/")
    assert page.locator("[data-testid=identities] tr[data-status=confirmed]").count() == 1

    # R-DLV-2: the owner's domain, its DKIM record published and checked.
    page.goto(base + "/senders/domains/new/")
    page.fill("#id_domain", "shop.test")
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=record-name]")
    name = page.locator("[data-testid=record-name]").inner_text().strip()
    value = page.locator("[data-testid=record-value]").inner_text().strip()
    dns_server.publish(name, value)
    page.click("text=Check DNS")
    page.wait_for_selector("[data-testid=check-result]")
    assert SenderDomain.objects.get(owner=owner).verified_at is not None

    # A daily mailing from that sender to everyone subscribed.
    ok = ClientFactory(owner=owner, email="ok@customers.test", full_name="Olga Ok")
    gone = ClientFactory(owner=owner, email="gone@customers.test", full_name="Gleb Gone")
    angry = ClientFactory(owner=owner, email="angry@customers.test", full_name="Anton Angry")
    provider.bounce.add(gone.email)
    provider.complain.add(angry.email)
    message = Message.objects.create(owner=owner, subject="News for {first_name}", body="Hello {full_name}")
    page.goto(base + "/mailings/new/")
    page.select_option("#id_message", str(message.pk))
    now = timezone.localtime(timezone.now(), owner.tz)
    page.fill("#id_start_at", (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end_at", (now + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_periodicity", "daily")
    page.check("#audience-everyone")
    page.select_option("#id_sender", label="Shop News <news@shop.test>")
    page.click("[data-testid=mailing-form] button[type=submit]")
    page.wait_for_url(lambda url: "/new/" not in url)
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.sender.from_email == "news@shop.test"

    summary = send_due()
    assert summary.sent == 3, summary
    with provider.lock:
        sent = list(provider.received)
    assert sorted(r for item in sent for r in item.rcpt_tos) == sorted([ok.email, gone.email, angry.email])
    published = {f"{name}.".encode(): value.encode()}
    operator = signing.operator_key()
    published[f"{signing.record_name(operator)}.".encode()] = signing.public_record(operator).encode()
    for item in sent:
        parsed = item.message
        assert parsed["From"] == "Shop News <news@shop.test>"
        assert parsed["Reply-To"] == "help@shop.test"
        assert verp.delivery_id_from(item.mail_from) is not None  # the per-delivery return path
        signatures = parsed.get_all("DKIM-Signature")
        domains = sorted(s.split("d=")[1].split(";")[0].strip() for s in signatures)
        assert domains == ["mailer.test", "shop.test"]
        checker = dkim.DKIM(item.data)
        assert all(checker.verify(idx=i, dnsfunc=lambda n, timeout=5: published.get(n)) for i in range(2))

    # The provider's reports come back to the return paths: a bounce after acceptance, a complaint.
    wait_until_true(lambda: Bounce.objects.count() == 2)
    assert not provider.report_errors
    assert Client.objects.get(pk=gone.pk).bounced_at is not None
    assert Delivery.objects.get(client=gone).bounced_at is not None
    assert Client.objects.get(pk=angry.pk).unsubscribed_at is not None
    assert Client.objects.get(pk=ok.pk).bounced_at is None
    page.goto(base + f"/clients/{gone.pk}/edit/")
    assert page.locator("[data-testid=bounced-alert]").is_visible()
    page.goto(base + f"/mailings/{mailing.pk}/report/")
    assert "bounced after acceptance" in page.content()

    # The next day's occurrence: the bounced and the complaining clients are skipped.
    provider.received.clear()
    send_due(now=timezone.now() + dt.timedelta(days=1))
    assert received_by(provider) == [ok.email]

    # R-DLV-5: a new account's quota stops its first send part-way; the rest waits for the next day.
    newcomer = UserFactory(email="new@startup.test")
    for i in range(5):
        ClientFactory(owner=newcomer, email=f"c{i}@customers.test")
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 2
    first = once_to_everyone(newcomer, "Hi")
    send_due()
    assert len(received_by(provider)) == 2
    sign_in(page, base, newcomer)
    page.goto(base + f"/mailings/{first.pk}/")
    assert page.locator("[data-testid=quota-wait]").is_visible()

    # A burst of bounces pauses an owner; the manager dashboard lists them for review.
    settings.SEND_REVIEW_MIN_SENT = 5
    burst = UserFactory(email="burst@lists.test")
    burst.date_joined = timezone.now() - dt.timedelta(days=60)
    burst.save(update_fields=["date_joined"])
    addresses = [f"b{i}@customers.test" for i in range(6)]
    for address in addresses:
        ClientFactory(owner=burst, email=address)
    provider.bounce.update(addresses[:3])
    once_to_everyone(burst, "Offer")
    send_due()
    wait_until_true(lambda: Bounce.objects.filter(owner=burst).count() == 3)
    assert burst.pk in services.review_senders()
    assert User.objects.get(pk=burst.pk).sending_paused_at is not None

    page.context.clear_cookies()
    manager = make_managers_member(email="boss@mailer.test")
    manager_log_in(page, base, manager.email)
    wait_ready(page, "review")
    row = page.locator("[data-testid=review-row][data-email='burst@lists.test']")
    assert row.count() == 1
    assert row.locator("[data-testid=review-bounce-rate]").inner_text().startswith("50.0%")
    assert rows(page, "review").count() == 1
    assert errors == []
