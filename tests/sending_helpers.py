"""Building due mailings for the sending tests."""

import datetime as dt

from django.utils import timezone

from backend.mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory


def due_mailing(
    *, clients: int = 3, periodicity: str = "once", owner=None, message=None, **fields
) -> Mailing:
    """A mailing whose start has passed and whose end has not: due now (R-SEND-1)."""
    owner = owner or UserFactory()
    now = timezone.now()
    fields.setdefault("start_at", now - dt.timedelta(minutes=1))
    fields.setdefault("end_at", now + dt.timedelta(days=30))
    mailing = MailingFactory(
        owner=owner,
        message=message
        or MessageFactory(owner=owner, subject="Hello {first_name}", body="Dear {full_name},\nnews."),
        periodicity=periodicity,
        next_run_at=fields["start_at"],
        clients=[ClientFactory(owner=owner) for _ in range(clients)],
        **fields,
    )
    return mailing
