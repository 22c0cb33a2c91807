"""What the bounce tests share: the bounce domain, and deliveries really sent through the engine."""

import pytest

from backend.mailings import verp
from backend.mailings.models import Delivery
from backend.mailings.sending import send_due
from tests.sending_helpers import due_mailing

BOUNCE_DOMAIN = "bounces.example.net"


@pytest.fixture
def bounce_domain(settings):
    settings.BOUNCE_DOMAIN = BOUNCE_DOMAIN
    settings.BOUNCE_LOCAL_PART = "bounces"
    return BOUNCE_DOMAIN


def sent_deliveries(*, clients: int = 1, owner=None, **fields) -> list[Delivery]:
    """A due mailing sent by a real pass to the loopback SMTP server (the `smtp` fixture): its deliveries,
    all sent."""
    mailing = due_mailing(clients=clients, owner=owner, **fields)
    summary = send_due()
    assert summary.sent == clients, summary
    return list(mailing.deliveries.select_related("client", "mailing").order_by("pk"))


def return_path(delivery: Delivery) -> str:
    address = verp.return_path(delivery.pk)
    assert address is not None
    return address
