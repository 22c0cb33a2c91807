"""One person known to Mailer in every way an owner's data can name them (R-ENG-4), next to a bystander of
the same owner and another owner's data about the same address, which an erasure must leave alone."""

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.utils import timezone

from backend.accounts.models import User
from backend.mailings.models import (
    Bounce,
    Client,
    ClientImport,
    Consent,
    Delivery,
    DeliveryAttempt,
    EngagementEvent,
    Mailing,
    Occurrence,
    SignupForm,
    TrackedLink,
    Unsubscription,
)
from backend.mailings.scheduling import final_totals
from tests.factories import ClientFactory, MailingFactory, TagFactory, UserFactory

ADDRESS = "Ann.Person@Example.org"
NEEDLE = "ann.person@example.org"  # what no text column may hold after the erasure, in any letter case
LINK = "https://shop.example.com/sale?ref=news"


@dataclass
class World:
    owner: User
    stranger: User
    client: Client
    bystander: Client
    finished: Occurrence
    running: Occurrence
    sent: Delivery  # the client's, in the finished occurrence
    earlier: Delivery  # to the address, of a deleted earlier client row (client NULL), other letter case
    pending: Delivery  # the client's, in the running occurrence
    kept: Delivery  # the bystander's
    theirs: Delivery  # the stranger's, to the same address
    mailing: Mailing


def _bounce(n: int, **fields) -> Bounce:
    raw = f"From: MAILER-DAEMON\n\n{n} could not deliver to {ADDRESS}".encode()
    return Bounce.objects.create(
        source=Bounce.Source.SMTP,
        received_at=timezone.now() - dt.timedelta(hours=n),
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        raw=raw,
        **fields,
    )


def _delivery(occurrence: Occurrence, client: Client | None, email: str, **fields) -> Delivery:
    return Delivery.objects.create(
        mailing=occurrence.mailing, occurrence=occurrence, client=client, email=email, **fields
    )


def build() -> World:
    now = timezone.now()
    owner, stranger = UserFactory(), UserFactory()
    client = ClientFactory(owner=owner, email=ADDRESS, full_name="Ann Person", comment="met at the fair")
    client.tags.add(TagFactory(owner=owner, name="customers"))
    bystander = ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    mailing = MailingFactory(owner=owner, clients=[client, bystander])
    finished = Occurrence.objects.create(mailing=mailing, scheduled_for=now - dt.timedelta(days=2))
    sent = _delivery(
        finished,
        client,
        ADDRESS,
        status="sent",
        attempts=1,
        sent_at=now - dt.timedelta(days=2),
        last_attempt_at=now - dt.timedelta(days=2),
        last_response=f"250 ok <{ADDRESS}>",
    )
    DeliveryAttempt.objects.create(
        delivery=sent,
        attempted_at=now - dt.timedelta(days=2),
        outcome="sent",
        smtp_code=250,
        response=f"2.0.0 queued for <{ADDRESS}>",
    )
    earlier = _delivery(finished, None, NEEDLE.upper(), status="failed", attempts=1)
    DeliveryAttempt.objects.create(
        delivery=earlier,
        attempted_at=now - dt.timedelta(days=2),
        outcome="permanent",
        smtp_code=550,
        response="5.1.1 user unknown",
    )
    kept = _delivery(finished, bystander, bystander.email, status="sent", attempts=1, sent_at=now)
    DeliveryAttempt.objects.create(delivery=kept, attempted_at=now, outcome="sent", smtp_code=250)
    link = TrackedLink.objects.create(
        mailing=mailing, url=LINK, url_hash=hashlib.sha256(LINK.encode()).hexdigest()
    )
    for kind, at, the_link in (
        (EngagementEvent.Kind.OPEN, now - dt.timedelta(days=1), None),
        (EngagementEvent.Kind.CLICK, now - dt.timedelta(hours=20), link),
    ):
        EngagementEvent.objects.create(
            kind=kind,
            mailing=mailing,
            occurrence=finished,
            delivery=sent,
            link=the_link,
            at=at,
            user_agent="Thunderbird",
        )
    EngagementEvent.objects.create(kind="open", mailing=mailing, occurrence=finished, delivery=kept, at=now)
    Occurrence.objects.filter(pk=finished.pk).update(finished_at=now, **final_totals())
    finished.refresh_from_db()
    running = Occurrence.objects.create(mailing=mailing, scheduled_for=now - dt.timedelta(minutes=5))
    pending = _delivery(running, client, ADDRESS, next_attempt_at=now)

    their_mailing = MailingFactory(owner=stranger)
    their_occurrence = Occurrence.objects.create(mailing=their_mailing, scheduled_for=now)
    theirs = _delivery(their_occurrence, None, ADDRESS, status="sent")
    _bounce(1, kind="hard", owner=owner, client=client, delivery=sent, email=ADDRESS, reason="user unknown")
    _bounce(2, kind="soft", owner=owner, delivery=earlier, email=NEEDLE, reason="mailbox full")
    _bounce(3, kind="complaint", owner=owner, email=ADDRESS.upper(), reason="spam report")
    _bounce(4, kind="hard", owner=stranger, delivery=theirs, email=ADDRESS, reason="theirs")
    form = SignupForm.objects.create(
        owner=owner, name="Footer", title="News", consent_text="Yes", thank_you_text="Thanks"
    )
    Consent.objects.create(
        owner=owner,
        client=client,
        form=form,
        email=ADDRESS,
        text="I want the news.",
        requested_at=now - dt.timedelta(days=3, minutes=5),
        requested_ip="192.0.2.7",
        confirmed_at=now - dt.timedelta(days=3),
        confirmed_ip="192.0.2.8",
        user_agent="Firefox",
    )
    Unsubscription.objects.create(owner=owner, email=NEEDLE)
    Unsubscription.objects.create(owner=stranger, email=NEEDLE)
    ClientImport.objects.create(
        owner=owner,
        file_name="list.csv",
        path="x.csv",
        size=10,
        sha256="0" * 64,
        status="done",
        problems=[[2, ADDRESS, "skipped", "unchanged", "unchanged"], [3, "bob@example.org", "added", "", ""]],
    )
    return World(
        owner, stranger, client, bystander, finished, running, sent, earlier, pending, kept, theirs, mailing
    )
