"""The sender pages (R-DLV-1, R-DLV-2): the owner's list with statuses, create/edit/delete/resend, a
domain's DNS record and its "Check DNS" against a fake DNS server, the confirmation link's page (nothing
changes on GET), the mailing form's sender choice, the managers' list and revoke form, and who is refused."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from backend.mailings import selectors, services
from backend.mailings.models import Mailing, SenderDomain, SenderIdentity
from tests.factories import MailingFactory, MessageFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page, make_content_editor
from tests.senders_helpers import confirmation_token, confirmed_identity, dns_server, verified_domain

pytestmark = pytest.mark.django_db

__all__ = ["dns_server"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_each_sender_and_domain_with_its_status(smtp):
    owner = UserFactory()
    confirmed_identity(owner, "ok@shop.example")
    SenderIdentity.objects.create(
        owner=owner, from_name="Wait", from_email="wait@else.example", confirmation_sent_at=timezone.now()
    )
    confirmed_identity(owner, "gone@shop.example", revoked_at=timezone.now(), revoked_reason="Spam reports")
    verified_domain(owner, "verified.example")
    SenderIdentity.objects.create(owner=owner, from_name="Dom", from_email="any@verified.example")
    confirmed_identity(UserFactory(), "stranger@shop.example")

    html = signed_in(owner).get("/senders/").content.decode()
    assert 'data-status="confirmed"' in html and "ok@shop.example" in html
    assert 'data-status="awaiting"' in html and "Send the link again" in html
    assert 'data-status="revoked"' in html and "Spam reports" in html
    assert "sent from the service's address" in html  # what happens to mailings using it
    assert 'data-status="domain"' in html and 'data-status="verified"' in html
    assert "stranger@shop.example" not in html
    assert 'href="/senders/"' in signed_in(owner).get("/dashboard/").content.decode()  # the navbar link


def test_create_through_the_page_mails_the_link_and_the_link_confirms_only_on_post(smtp):
    owner = UserFactory()
    client = signed_in(owner)
    response = client.post("/senders/new/", {"from_name": "Shop", "from_email": "news@shop.example"})
    assert response.status_code == 302
    assert "confirmation link was sent" in client.get("/senders/").content.decode()
    token = confirmation_token(smtp.received[0])

    reader = Client(enforce_csrf_checks=True)  # whoever reads the mailbox: not signed in
    page = reader.get(f"/senders/confirm/{token}/")
    assert page.status_code == 200 and 'data-testid="confirm-button"' in page.content.decode()
    assert SenderIdentity.objects.get().confirmed_at is None  # a scanner opening the link changes nothing
    csrf = page.cookies["csrftoken"].value
    done = reader.post(f"/senders/confirm/{token}/", {"csrfmiddlewaretoken": csrf})
    assert done.status_code == 200 and 'data-testid="confirmed"' in done.content.decode()
    assert SenderIdentity.objects.get().confirmed_at is not None


def test_a_wrong_or_expired_link_says_so_and_changes_nothing(smtp):
    assert Client().get("/senders/confirm/not-a-token/").status_code == 404
    assert Client().post("/senders/confirm/not-a-token/").status_code == 400
    identity = services.sender_create(
        actor=UserFactory(), data={"from_name": "Shop", "from_email": "news@shop.example"}
    )
    SenderIdentity.objects.update(confirmation_sent_at=timezone.now() - dt.timedelta(days=30))
    page = Client().get(f"/senders/confirm/{identity.confirmation_token}/").content.decode()
    assert "expired" in page and 'data-testid="confirm-button"' not in page
    response = Client().post(f"/senders/confirm/{identity.confirmation_token}/")
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert SenderIdentity.objects.get().confirmed_at is None


def test_bad_input_re_renders_the_form_with_the_error(smtp):
    client = signed_in(UserFactory())
    response = client.post("/senders/new/", {"from_name": "A\nB", "from_email": "x@y.example"})
    assert response.status_code == 200 and "single line" in response.content.decode()
    assert not SenderIdentity.objects.exists()


def test_edit_delete_and_resend_of_the_owners_own(smtp):
    owner = UserFactory()
    client = signed_in(owner)
    client.post("/senders/new/", {"from_name": "Shop", "from_email": "news@shop.example"})
    identity = SenderIdentity.objects.get()
    assert client.post(f"/senders/{identity.pk}/resend/").status_code == 302
    assert len(smtp.received) == 2
    response = client.post(
        f"/senders/{identity.pk}/edit/", {"from_name": "Deals", "from_email": "deals@shop.example"}
    )
    assert response.status_code == 302 and smtp.received[-1].rcpt_tos == ["deals@shop.example"]
    assert client.post(f"/senders/{identity.pk}/delete/").status_code == 302
    assert not SenderIdentity.objects.exists()


def test_another_owners_sender_or_domain_is_a_404():
    owner, stranger = UserFactory(), UserFactory()
    identity = confirmed_identity(owner)
    domain = verified_domain(owner)
    client = signed_in(stranger)
    for url in (
        f"/senders/{identity.pk}/edit/",
        f"/senders/{identity.pk}/delete/",
        f"/senders/domains/{domain.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (f"/senders/{identity.pk}/resend/", f"/senders/domains/{domain.pk}/check/"):
        assert client.post(url).status_code == 404, url
    assert client.post(f"/senders/{identity.pk}/delete/").status_code == 404
    assert SenderIdentity.objects.filter(pk=identity.pk).exists()


def test_managers_and_editors_have_no_sender_pages_and_anonymous_users_log_in():
    for user in (make_manager(), make_content_editor()):
        assert_refused_page(signed_in(user).get("/senders/"))
    response = Client().get("/senders/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_revoked_sender_cannot_be_edited_on_the_page():
    owner = UserFactory()
    identity = confirmed_identity(owner, revoked_at=timezone.now())
    assert signed_in(owner).get(f"/senders/{identity.pk}/edit/").status_code == 403
    response = signed_in(owner).post(f"/senders/{identity.pk}/delete/")
    assert response.status_code == 409 and SenderIdentity.objects.filter(pk=identity.pk).exists()


def test_add_a_domain_see_the_record_and_check_it_r_dlv_2(dns_server):
    owner = UserFactory()
    client = signed_in(owner)
    response = client.post("/senders/domains/new/", {"domain": "shop.example", "algorithm": "ed25519"})
    domain = SenderDomain.objects.get()
    assert response["Location"] == f"/senders/domains/{domain.pk}/"
    page = client.get(response["Location"]).content.decode()
    record = services.dns_record(domain)
    assert record.name in page and record.value in page and "Check DNS" in page
    assert domain.private_key.splitlines()[1] not in page

    assert client.post(f"/senders/domains/{domain.pk}/check/").status_code == 302
    page = client.get(f"/senders/domains/{domain.pk}/").content.decode()
    assert "Not found yet" in page and "not verified yet" in page

    dns_server.publish(record.name, record.value)
    client.post(f"/senders/domains/{domain.pk}/check/")
    assert SenderDomain.objects.get().verified_at is not None
    assert "domain verified" in client.get(f"/senders/domains/{domain.pk}/").content.decode()


def test_a_dns_timeout_on_the_page_is_a_message_not_an_error(dns_server):
    owner = UserFactory()
    domain = services.sender_domain_add(actor=owner, data={"domain": "shop.example", "algorithm": "ed25519"})
    dns_server.mode = "timeout"
    client = signed_in(owner)
    response = client.post(f"/senders/domains/{domain.pk}/check/", follow=True)
    assert response.status_code == 200 and "The DNS lookup failed" in response.content.decode()


def test_the_mailing_form_offers_only_usable_senders_r_dlv_1():
    owner = UserFactory()
    usable = confirmed_identity(owner, "ok@shop.example")
    unconfirmed = SenderIdentity.objects.create(owner=owner, from_name="W", from_email="w@shop.example")
    foreign = confirmed_identity(UserFactory(), "x@shop.example")
    message = MessageFactory(owner=owner)
    client = signed_in(owner)
    page = client.get("/mailings/new/").content.decode()
    assert "ok@shop.example" in page and "w@shop.example" not in page and "x@shop.example" not in page

    now = timezone.localtime(timezone.now(), owner.tz)
    data = {
        "message": message.pk,
        "audience": "everyone",
        "start_at": (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "end_at": (now + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "periodicity": "once",
    }
    for refused in (unconfirmed, foreign):
        response = client.post("/mailings/new/", {**data, "sender": refused.pk})
        assert (
            response.status_code == 200
            and "Choose one of your confirmed senders" in response.content.decode()
        )
    assert not Mailing.objects.exists()
    assert client.post("/mailings/new/", {**data, "sender": usable.pk}).status_code == 302
    mailing = Mailing.objects.get()
    assert mailing.sender == usable

    services.sender_revoke(actor=make_manager(), identity=usable, reason="abuse")
    page = client.get(f"/mailings/{mailing.pk}/edit/").content.decode()
    assert 'data-testid="unusable-sender"' in page
    assert selectors.sender_for(Mailing.objects.get()).from_email.endswith("<noreply@localhost>")


def test_the_managers_list_and_revoke_form(smtp):
    owner = UserFactory(email="owner@shop.example")
    identity = confirmed_identity(owner)
    manager = make_manager()
    client = signed_in(manager)
    assert 'href="/manager/senders/"' in client.get("/manager/").content.decode()
    page = client.get("/manager/senders/").content.decode()
    assert "news@shop.example" in page and "owner@shop.example" in page and 'data-status="confirmed"' in page
    assert "owner@shop.example" in client.get("/manager/senders/?q=owner@").content.decode()
    assert "news@shop.example" not in client.get("/manager/senders/?q=nobody").content.decode()

    response = client.post(f"/manager/senders/{identity.pk}/revoke/", {"reason": ""}, follow=True)
    assert "Say why." in response.content.decode()
    assert SenderIdentity.objects.get().revoked_at is None
    client.post(f"/manager/senders/{identity.pk}/revoke/", {"reason": "Phishing"})
    identity.refresh_from_db()
    assert identity.revoked_at is not None and identity.revoked_reason == "Phishing"
    assert "Phishing" in signed_in(owner).get("/senders/").content.decode()
    link_page = Client().get(f"/senders/confirm/{identity.confirmation_token}/").content.decode()
    assert "revoked" in link_page, link_page[link_page.find("<main") :][:1500]
    assert 'data-testid="confirm-button"' not in link_page
    assert client.post("/manager/senders/999999/revoke/", {"reason": "x"}).status_code == 404


def test_owners_cannot_open_the_managers_list_or_revoke():
    owner = UserFactory()
    identity = confirmed_identity(UserFactory())
    client = signed_in(owner)
    assert client.get("/manager/senders/").status_code == 403
    assert client.post(f"/manager/senders/{identity.pk}/revoke/", {"reason": "x"}).status_code == 403
    assert SenderIdentity.objects.get().revoked_at is None
    assert Client().get("/manager/senders/").status_code == 302


def test_the_admin_saves_through_the_services_and_never_shows_a_private_key(smtp):
    superuser = UserFactory(is_superuser=True, is_staff=True)
    owner = UserFactory()
    client = signed_in(superuser)
    response = client.post(
        f"/admin/mailings/senderidentity/add/?owner={owner.pk}",
        {"from_name": "Shop", "from_email": "news@shop.example", "reply_to": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    identity = SenderIdentity.objects.get()
    assert identity.owner == owner and smtp.received[0].rcpt_tos == ["news@shop.example"]

    response = client.post(
        f"/admin/mailings/senderdomain/add/?owner={owner.pk}", {"domain": "shop.example", "algorithm": "rsa"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    domain = SenderDomain.objects.get()
    page = client.get(f"/admin/mailings/senderdomain/{domain.pk}/change/").content.decode()
    assert services.dns_record(domain).name in page
    for line in domain.private_key.splitlines()[1:-1]:
        assert line not in page
    assert "PRIVATE KEY" not in client.get("/admin/mailings/senderdomain/").content.decode()


def test_the_mailing_page_says_who_its_mail_comes_from_and_when_it_falls_back():
    owner = UserFactory(first_name="Anna", last_name="Shop")
    identity = confirmed_identity(owner, from_name="Shop News")
    mailing = MailingFactory(owner=owner, sender=identity)
    client = signed_in(owner)
    page = client.get(f"/mailings/{mailing.pk}/").content.decode()
    assert "Shop News &lt;news@shop.example&gt;" in page and 'data-testid="sender-fallback"' not in page
    services.sender_revoke(actor=make_manager(), identity=identity, reason="abuse")
    page = client.get(f"/mailings/{mailing.pk}/").content.decode()
    assert "Anna Shop &lt;noreply@localhost&gt;" in page and 'data-testid="sender-fallback"' in page
