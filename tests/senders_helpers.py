"""Sender identities and domains for the deliverability tests (R-DLV-1, R-DLV-2): a fake DNS server on
loopback wired into the settings, the confirmation link read from a received mail, ready-made identities."""

import re

import pytest
from django.utils import timezone

from backend.mailings import domainkeys
from backend.mailings.models import SenderDomain, SenderIdentity
from tests.fakes.dns import FakeDNSServer

LINK = re.compile(r"https?://\S+/senders/confirm/([A-Za-z0-9_-]+)/")


@pytest.fixture
def dns_server(settings):
    server = FakeDNSServer().start()
    settings.DKIM_DNS_NAMESERVERS = [server.host]
    settings.DKIM_DNS_PORT = server.port
    settings.DKIM_DNS_TIMEOUT = 3  # generous: a loaded test machine must not turn an answer into a timeout
    yield server
    server.stop()


def confirmation_token(received) -> str:
    """The token of the confirmation link in a mail the fake SMTP server received."""
    body = received.message.get_payload(decode=True).decode()
    found = LINK.search(body)
    assert found, body
    return found.group(1)


def confirmed_identity(owner, email: str = "news@shop.example", **fields) -> SenderIdentity:
    fields.setdefault("from_name", "Shop News")
    return SenderIdentity.objects.create(owner=owner, from_email=email, confirmed_at=timezone.now(), **fields)


def verified_domain(owner, domain: str = "shop.example", algorithm: str = "rsa") -> SenderDomain:
    keys = domainkeys.generate(algorithm)
    return SenderDomain.objects.create(
        owner=owner,
        domain=domain,
        selector=domainkeys.new_selector(),
        algorithm=algorithm,
        private_key=keys.private_pem.decode(),
        public_key=keys.public,
        verified_at=timezone.now(),
    )
