"""Sender identities and domains through the services (R-DLV-1, R-DLV-2): the confirmation link mailed
through a real SMTP server on loopback, its expiry and replacement, revocation, the one usability rule and
the Sender the engine sends as, DKIM key generation and the DNS check against a fake DNS server."""

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from backend.accounts.ratelimit import RateLimited
from backend.mailings import domainkeys, selectors, services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import SenderDomain, SenderIdentity
from backend.mailings.services import FormInvalid
from tests.factories import MailingFactory, UserFactory, make_manager
from tests.fakes.smtp import closed_port, free_port
from tests.senders_helpers import confirmation_token, confirmed_identity, dns_server, verified_domain

pytestmark = pytest.mark.django_db

__all__ = ["dns_server"]  # the fixture, imported for the tests below


def create(owner, **data):
    data = {"from_name": "Shop", "from_email": "news@shop.example", "reply_to": "", **data}
    return services.sender_create(actor=owner, data=data)


def codes(exc: ValidationError) -> set[str]:
    form = getattr(exc, "form", None)
    if form is not None:
        return {error.code for errors in form.errors.as_data().values() for error in errors}
    return (
        {error.code for error in exc.error_list}
        if not hasattr(exc, "error_dict")
        else {error.code for errors in exc.error_dict.values() for error in errors}
    )


# --- identities and the confirmation link ---------------------------------------------------------------


def test_a_new_sender_gets_a_link_by_mail_and_is_usable_only_once_it_is_followed_r_dlv_1(smtp):
    owner = UserFactory()
    identity = create(owner, from_name="Shop News", from_email="News@Shop.Example")
    assert identity.from_email == "News@shop.example"  # the domain lower-case, the local part as typed
    assert identity.confirmation_sent_at is not None and identity.confirmed_at is None
    assert not selectors.usable_senders(owner).exists()
    [received] = smtp.received
    assert received.rcpt_tos == ["News@shop.example"]
    token = confirmation_token(received)
    assert token == identity.confirmation_token and len(token) >= 43  # 256 random bits
    assert "Shop News" in received.message.get_payload(decode=True).decode()

    services.sender_confirm(token=token)
    assert list(selectors.usable_senders(owner)) == [identity]
    services.sender_confirm(token=token)  # twice is harmless


def test_a_link_expires_and_a_resent_link_replaces_the_old_one(smtp, settings):
    settings.SENDER_CONFIRMATION_DAYS = 2
    identity = create(UserFactory())
    old = identity.confirmation_token
    SenderIdentity.objects.filter(pk=identity.pk).update(
        confirmation_sent_at=timezone.now() - dt.timedelta(days=2, seconds=1)
    )
    with pytest.raises(ValidationError) as expired:
        services.sender_confirm(token=old)
    assert codes(expired.value) == {ErrorCode.CONFIRMATION_EXPIRED}

    identity.refresh_from_db()
    services.sender_send_confirmation(actor=identity.owner, identity=identity)
    new = confirmation_token(smtp.received[-1])
    assert new != old
    with pytest.raises(ValidationError) as replaced:
        services.sender_confirm(token=old)
    assert codes(replaced.value) == {ErrorCode.INVALID}
    assert services.sender_confirm(token=new).confirmed_at is not None
    with pytest.raises(ValidationError) as again:
        services.sender_send_confirmation(actor=identity.owner, identity=identity)
    assert codes(again.value) == {ErrorCode.SENDER_CONFIRMED}


def test_a_confirmed_sender_moved_to_another_address_needs_confirming_again(smtp):
    identity = create(UserFactory())
    services.sender_confirm(token=identity.confirmation_token)
    old_token = SenderIdentity.objects.get(pk=identity.pk).confirmation_token
    identity.refresh_from_db()

    renamed = services.sender_update(
        actor=identity.owner,
        identity=identity,
        data={"from_name": "Shop Deals", "from_email": "news@shop.example", "reply_to": ""},
    )
    assert renamed.confirmed_at is not None  # the name alone: still confirmed, no new mail
    assert len(smtp.received) == 1

    moved = services.sender_update(
        actor=identity.owner,
        identity=renamed,
        data={"from_name": "Shop Deals", "from_email": "deals@other.example", "reply_to": ""},
    )
    assert moved.confirmed_at is None
    assert not selectors.usable_senders(identity.owner).exists()
    assert smtp.received[-1].rcpt_tos == ["deals@other.example"]
    with pytest.raises(ValidationError):
        services.sender_confirm(token=old_token)  # the old address's link confirms nothing
    services.sender_confirm(token=confirmation_token(smtp.received[-1]))
    assert selectors.usable_senders(identity.owner).get() == moved


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"from_name": "Shop\r\nBcc: victim@example.org"}, "from_name", ErrorCode.INVALID),
        ({"from_name": "   "}, "from_name", "required"),
        ({"from_email": "not an address"}, "from_email", "invalid"),
        ({"from_email": "néws@shop.example"}, "from_email", ErrorCode.INVALID),
        ({"reply_to": "nope"}, "reply_to", "invalid"),
    ],
)
def test_bad_input_is_refused_per_field(smtp, data, field, code):
    with pytest.raises(FormInvalid) as refused:
        create(UserFactory(), **data)
    assert code in {error.code for error in refused.value.form.errors.as_data()[field]}
    assert not SenderIdentity.objects.exists() and not smtp.received


def test_the_same_address_twice_in_any_case_is_refused_but_another_owner_may_have_it(smtp):
    owner = UserFactory()
    create(owner)
    with pytest.raises(FormInvalid) as duplicate:
        create(owner, from_email="NEWS@SHOP.EXAMPLE")
    assert codes(duplicate.value) == {ErrorCode.DUPLICATE_SENDER}
    create(UserFactory())  # another owner's identity at the same address waits for its own confirmation


def test_a_mail_server_that_is_down_leaves_the_sender_saved_and_unconfirmed(settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 1
    identity = create(UserFactory())
    assert identity.pk and identity.confirmation_sent_at is None
    with pytest.raises(ValidationError) as not_sent:
        services.sender_send_confirmation(actor=identity.owner, identity=identity)
    assert codes(not_sent.value) == {ErrorCode.CONFIRMATION_NOT_SENT}
    with pytest.raises(ValidationError) as never_sent:
        services.sender_confirm(token=SenderIdentity.objects.get(pk=identity.pk).confirmation_token)
    assert codes(never_sent.value) == {ErrorCode.CONFIRMATION_EXPIRED}


def test_links_per_owner_and_hour_are_limited(smtp):
    identity = create(UserFactory())
    for _ in range(services.CONFIRMATIONS_PER_HOUR - 1):
        services.sender_send_confirmation(actor=identity.owner, identity=identity)
    with pytest.raises(RateLimited):
        services.sender_send_confirmation(actor=identity.owner, identity=identity)
    assert len(smtp.received) == services.CONFIRMATIONS_PER_HOUR


def test_another_owner_and_a_manager_cannot_touch_an_owners_sender(smtp):
    identity = create(UserFactory())
    for actor in (UserFactory(), make_manager()):
        with pytest.raises(PermissionDenied):
            services.sender_update(
                actor=actor, identity=identity, data={"from_name": "X", "from_email": "x@y.example"}
            )
        with pytest.raises(PermissionDenied):
            services.sender_delete(actor=actor, identity=identity)
        with pytest.raises(PermissionDenied):
            services.sender_send_confirmation(actor=actor, identity=identity)
    assert SenderIdentity.objects.get(pk=identity.pk).from_email == "news@shop.example"


# --- revocation ------------------------------------------------------------------------------------------


def test_a_manager_revokes_with_a_reason_and_the_sender_is_unusable_for_good_r_dlv_1(smtp):
    owner = UserFactory()
    identity = confirmed_identity(owner)
    with pytest.raises(PermissionDenied):
        services.sender_revoke(actor=owner, identity=identity, reason="mine")
    manager = make_manager()
    with pytest.raises(ValidationError) as no_reason:
        services.sender_revoke(actor=manager, identity=identity, reason="  ")
    assert codes(no_reason.value) == {"required"}

    services.sender_revoke(actor=manager, identity=identity, reason="Phishing\nreports")
    identity.refresh_from_db()
    assert identity.revoked_by == manager and identity.revoked_reason == "Phishing reports"
    assert not selectors.usable_senders(owner).exists()
    for attempt in (
        lambda: services.sender_update(
            actor=owner, identity=identity, data={"from_name": "X", "from_email": "x@y.example"}
        ),
        lambda: services.sender_delete(actor=owner, identity=identity),
        lambda: services.sender_send_confirmation(actor=owner, identity=identity),
        lambda: services.sender_confirm(token=identity.confirmation_token),
    ):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert codes(refused.value) == {ErrorCode.SENDER_REVOKED}
    # Even a verified domain does not bring a revoked address back.
    verified_domain(owner)
    assert not selectors.usable_senders(owner).exists()


# --- who mail comes from ---------------------------------------------------------------------------------


def test_sender_for_a_usable_identity_is_that_identity(settings):
    settings.DEFAULT_FROM_EMAIL = "Mailer <noreply@mailer.example>"
    owner = UserFactory()
    identity = confirmed_identity(owner, from_name="Shop, Inc.", reply_to="help@shop.example")
    mailing = _mailing(owner, identity)
    sender = selectors.sender_for(mailing)
    assert sender.from_email == '"Shop, Inc." <news@shop.example>'
    assert sender.reply_to == "help@shop.example"
    assert sender.dkim_keys == ()  # confirmed by its link, at a domain that is not verified


def test_without_a_usable_identity_mail_comes_from_the_operator_with_the_owners_name(settings):
    settings.DEFAULT_FROM_EMAIL = "Mailer <noreply@mailer.example>"
    owner = UserFactory(first_name="Anna", last_name="Shop", email="anna@shop.example")
    assert selectors.sender_for(_mailing(owner, None)).from_email == "Anna Shop <noreply@mailer.example>"
    assert selectors.sender_for(_mailing(owner, None)).reply_to == "anna@shop.example"

    unconfirmed = SenderIdentity.objects.create(
        owner=owner, from_name="Shop", from_email="news@shop.example", reply_to="help@shop.example"
    )
    sender = selectors.sender_for(_mailing(owner, unconfirmed))
    assert sender.from_email == "Anna Shop <noreply@mailer.example>"
    assert sender.reply_to == "help@shop.example" and sender.dkim_keys == ()

    revoked = confirmed_identity(owner, "other@shop.example", revoked_at=timezone.now())
    assert selectors.sender_for(_mailing(owner, revoked)).from_email == "Anna Shop <noreply@mailer.example>"

    nameless = UserFactory(first_name="", last_name="")
    assert selectors.sender_for(_mailing(nameless, None)).from_email == "Mailer <noreply@mailer.example>"


def test_an_address_at_a_verified_domain_is_usable_unconfirmed_and_signed_with_its_key_r_dlv_2():
    owner = UserFactory()
    domain = verified_domain(owner, "shop.example")
    identity = SenderIdentity.objects.create(owner=owner, from_name="Shop", from_email="Sales@Shop.Example")
    assert list(selectors.usable_senders(owner)) == [identity]
    sender = selectors.sender_for(_mailing(owner, identity))
    assert sender.from_email == "Shop <Sales@Shop.Example>"
    [key] = sender.dkim_keys
    assert (key.domain, key.selector) == ("shop.example", domain.selector)
    assert key.private_key == domain.private_key.encode()
    assert b"PRIVATE" not in repr(sender).encode() and domain.private_key not in repr(sender)

    # Another owner's verified domain makes nothing usable for this one; a subdomain is another domain.
    stranger = UserFactory()
    SenderIdentity.objects.create(owner=stranger, from_name="X", from_email="x@shop.example")
    SenderIdentity.objects.create(owner=owner, from_name="Y", from_email="y@mail.shop.example")
    assert not selectors.usable_senders(stranger).exists()
    assert list(selectors.usable_senders(owner)) == [identity]


def _mailing(owner, identity):
    return MailingFactory(owner=owner, sender=identity)


# --- domains: keys and the DNS check ---------------------------------------------------------------------


def test_adding_a_domain_generates_an_rsa_2048_key_pair_and_the_record_to_publish():
    owner = UserFactory()
    domain = services.sender_domain_add(actor=owner, data={"domain": " Shop.Example. "})
    assert domain.domain == "shop.example" and domain.algorithm == "rsa"
    assert domain.selector.startswith("mailer") and len(domain.selector) == 14
    private = serialization.load_pem_private_key(domain.private_key.encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert base64.b64decode(domain.public_key) == public
    record = services.dns_record(domain)
    assert record.name == f"{domain.selector}._domainkey.shop.example"
    assert record.value == f"v=DKIM1; k=rsa; p={domain.public_key}"
    assert domain.private_key not in repr(record) and domain.verified_at is None


def test_an_ed25519_key_is_published_as_its_raw_32_bytes():
    domain = services.sender_domain_add(
        actor=UserFactory(), data={"domain": "straße.example", "algorithm": "ed25519"}
    )
    assert domain.domain == "xn--strae-oqa.example"  # IDNA 2008, not the stdlib's strasse
    private = serialization.load_pem_private_key(domain.private_key.encode(), None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert len(base64.b64decode(domain.public_key)) == 32
    assert services.dns_record(domain).value.startswith("v=DKIM1; k=ed25519; p=")


@pytest.mark.parametrize("value", ["localhost", "-bad.example", "a..example", "1.2.3.4", "a@b.example", ""])
def test_a_bad_domain_is_refused(value):
    with pytest.raises(FormInvalid) as refused:
        services.sender_domain_add(actor=UserFactory(), data={"domain": value})
    assert codes(refused.value) & {ErrorCode.INVALID_DOMAIN, "required"}


def test_the_same_domain_twice_is_refused():
    owner = UserFactory()
    services.sender_domain_add(actor=owner, data={"domain": "shop.example", "algorithm": "ed25519"})
    with pytest.raises(FormInvalid) as refused:
        services.sender_domain_add(actor=owner, data={"domain": "SHOP.example"})
    assert codes(refused.value) == {ErrorCode.DUPLICATE_DOMAIN}


def _domain(owner=None) -> SenderDomain:
    return services.sender_domain_add(
        actor=owner or UserFactory(), data={"domain": "shop.example", "algorithm": "ed25519"}
    )


def test_check_finds_the_published_key_and_verifies_the_domain_r_dlv_2(dns_server):
    domain = _domain()
    record = services.dns_record(domain)
    dns_server.publish("shop.example", "v=spf1 -all")
    dns_server.publish(record.name, "v=spf1 -all", record.value)
    checked = services.sender_domain_check(actor=domain.owner, domain=domain)
    assert checked.verified_at is not None and checked.checked_at is not None
    assert "matches" in checked.check_result
    assert dns_server.queries == [record.name]
    assert SenderDomain.objects.get(pk=domain.pk).verified_at == checked.verified_at


def test_check_of_a_long_rsa_record_split_into_strings_and_spaced_by_the_publisher(dns_server):
    domain = services.sender_domain_add(actor=UserFactory(), data={"domain": "shop.example"})
    record = services.dns_record(domain)
    public = domain.public_key
    dns_server.publish(record.name, f"v=DKIM1;  k=rsa;\tp={public[:100]} {public[100:]}")
    assert services.sender_domain_check(actor=domain.owner, domain=domain).verified_at is not None


def test_another_key_published_unverifies_the_domain(dns_server):
    domain = _domain()
    SenderDomain.objects.filter(pk=domain.pk).update(verified_at=timezone.now())
    domain.refresh_from_db()
    other = domainkeys.generate("ed25519").public
    dns_server.publish(services.dns_record(domain).name, f"v=DKIM1; k=ed25519; p={other}")
    checked = services.sender_domain_check(actor=domain.owner, domain=domain)
    assert checked.verified_at is None and "Another key" in checked.check_result


def test_a_record_of_the_wrong_key_type_does_not_verify(dns_server):
    domain = _domain()
    dns_server.publish(services.dns_record(domain).name, f"v=DKIM1; k=rsa; p={domain.public_key}")
    assert services.sender_domain_check(actor=domain.owner, domain=domain).verified_at is None


def test_a_name_that_does_not_exist_is_not_found(dns_server):
    domain = _domain()
    checked = services.sender_domain_check(actor=domain.owner, domain=domain)
    assert checked.verified_at is None
    assert "Not found yet" in checked.check_result and "NXDOMAIN" in checked.check_result


@pytest.mark.parametrize("mode", ["timeout", "garbage", "servfail"])
def test_a_dns_failure_is_a_clear_result_and_leaves_verification_as_it_was(dns_server, mode, settings):
    settings.DKIM_DNS_TIMEOUT = 0.5  # a failure is expected: no need to wait long for it
    domain = _domain()
    verified = timezone.now() - dt.timedelta(days=3)
    SenderDomain.objects.filter(pk=domain.pk).update(verified_at=verified)
    domain.refresh_from_db()
    dns_server.publish(services.dns_record(domain).name, services.dns_record(domain).value)
    dns_server.mode = mode
    checked = services.sender_domain_check(actor=domain.owner, domain=domain)
    assert checked.verified_at == verified
    assert checked.check_result.startswith("The DNS lookup failed")
    assert SenderDomain.objects.get(pk=domain.pk).check_result == checked.check_result


def test_no_resolver_listening_is_a_failure_too(settings):
    settings.DKIM_DNS_NAMESERVERS, settings.DKIM_DNS_PORT, settings.DKIM_DNS_TIMEOUT = (
        ["127.0.0.1"],
        free_port(),
        0.5,
    )
    domain = _domain()
    checked = services.sender_domain_check(actor=domain.owner, domain=domain)
    assert checked.verified_at is None and checked.check_result.startswith("The DNS lookup failed")


def test_only_the_owner_checks_or_deletes_a_domain(dns_server):
    domain = _domain()
    for actor in (UserFactory(), make_manager()):
        with pytest.raises(PermissionDenied):
            services.sender_domain_check(actor=actor, domain=domain)
        with pytest.raises(PermissionDenied):
            services.sender_domain_delete(actor=actor, domain=domain)
    assert dns_server.queries == []
    services.sender_domain_delete(actor=domain.owner, domain=domain)
    assert not SenderDomain.objects.exists()


def test_the_key_pairs_private_half_is_not_in_reprs():
    keys = domainkeys.generate("ed25519")
    assert keys.private_pem.decode() not in repr(keys)
