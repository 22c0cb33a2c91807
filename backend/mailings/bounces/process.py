"""A mail read back at the bounce address, recorded and acted on (R-DLV-3, R-DLV-4).

`record(raw, source=...)` stores every mail it is given as one `Bounce` row — understood or not, matched
or not — and acts on it in the same transaction: a mail is either stored with its consequences or not at all
(then the caller says so to whoever handed it over, who keeps it and tries again). The same bytes twice are
one row (the SHA-256 is unique), so an MTA's retry or an IMAP poll after a crash is harmless. Nothing here
deletes anything.

- hard bounce → the client is marked bounced (no longer a recipient: `selectors.recipients_of`), the
  delivery marked "bounced after acceptance" when it had been sent;
- soft bounce → counted; soft bounces of BOUNCE_SOFT_LIMIT different deliveries within BOUNCE_SOFT_DAYS
  days mark the client as a hard one does (one message bouncing twice counts once); a delay warning is no
  bounce: kept as unclassified, never counted;
- complaint → the client is unsubscribed the way the recipient's own link does it;
- not understood, or not naming one of our deliveries → kept as unclassified for a person to read (the
  owner's when it names a delivery, the operator's otherwise; of a mail naming none, only its first
  BOUNCE_UNMATCHED_MAX_BYTES).

A bounce about a message sent before the owner reactivated the client does not mark it again, nor do soft
bounces received before the reactivation count; a client whose address changed since is not marked for
the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Bounce, Client, Delivery
from ..services.clients import address_unsubscribe, client_unsubscribe
from .parse import COMPLAINT, HARD, SOFT, UNCLASSIFIED, Parsed, parse


def record(
    raw: bytes, *, source: str, envelope_to: str | Iterable[str] | None = None, now: dt.datetime | None = None
) -> Bounce:
    """Store `raw` (bytes as received) and act on it; the existing row when these bytes were stored before.
    Raises only what the database raises (it is down): the caller keeps the mail for a later try."""
    raw = bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    existing = Bounce.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    limit = max(settings.BOUNCE_RAW_MAX_BYTES, 0)
    kept = raw[:limit]
    if isinstance(envelope_to, str):
        envelope_to = [envelope_to]
    envelope = [address for address in (envelope_to or []) if isinstance(address, str)]
    parsed = parse(kept, envelope_to=envelope if envelope_to is not None else None)
    try:
        with transaction.atomic():
            bounce = _store(raw, kept, digest, source, envelope, parsed, now)
            _act(bounce, now)
            return bounce
    except IntegrityError:
        # The same mail stored meanwhile by another reader (the SHA-256 is unique).
        existing = Bounce.objects.filter(sha256=digest).first()
        if existing is None:
            raise
        return existing


def _store(
    raw: bytes, kept: bytes, digest: str, source: str, envelope: list[str], parsed: Parsed, now: dt.datetime
) -> Bounce:
    delivery = None
    if parsed.delivery_id is not None:
        delivery = (
            Delivery.objects.select_related("mailing")
            .filter(pk=parsed.delivery_id)
            .only(
                "pk",
                "email",
                "client_id",
                "status",
                "claim_token",
                "sent_at",
                "created_at",
                "mailing__owner_id",
            )
            .first()
        )
    sent_to = parsed.verp_addresses[0] if parsed.verp_addresses else (envelope[0] if envelope else "")
    bounce = Bounce(
        source=source,
        received_at=now,
        envelope_to=_printable(sent_to)[:320],
        status_code=parsed.status_code,
        reason=parsed.reason,
        sha256=digest,
        size=min(len(raw), 2**31 - 1),
        raw=kept,
        raw_truncated=len(kept) < len(raw),
    )
    if delivery is None:
        # Not one of ours (or its delivery is gone): the operator's to read, acted on by nobody. Spam
        # fills nothing: only its first BOUNCE_UNMATCHED_MAX_BYTES are kept.
        bounce.kind = UNCLASSIFIED
        bounce.email = parsed.recipient
        bounce.raw = kept[: max(settings.BOUNCE_UNMATCHED_MAX_BYTES, 0)]
        bounce.raw_truncated = len(bounce.raw) < len(raw)
    else:
        bounce.kind = parsed.kind
        bounce.delivery = delivery
        bounce.owner_id = delivery.mailing.owner_id
        bounce.client_id = delivery.client_id
        bounce.email = delivery.email
    bounce.save(force_insert=True)
    return bounce


def _act(bounce: Bounce, now: dt.datetime) -> None:
    if bounce.delivery_id is None or bounce.kind == UNCLASSIFIED:
        return
    delivery = bounce.delivery
    client = None
    if bounce.client_id is not None:
        client = Client.objects.select_for_update().filter(pk=bounce.client_id).first()
        if client is not None and client.email.lower() != delivery.email.lower():
            # The owner corrected the address since: this bounce is about the old one.
            client = None
    if bounce.kind == COMPLAINT:
        if client is not None:
            client_unsubscribe(client=client)
        else:
            address_unsubscribe(owner_id=bounce.owner_id, email=delivery.email)
        return
    # A server that accepted the mail may report on it before the engine has recorded the send: a delivery
    # still waiting but claimed by a sender is in flight. One waiting unclaimed, failed or skipped was not
    # accepted (a report about it is about an attempt the engine does not know of, or an old address).
    accepted = delivery.status == Delivery.Status.SENT or (
        delivery.status in Delivery.PENDING_STATUSES and delivery.claim_token != ""
    )
    if bounce.kind == HARD and accepted and delivery.bounced_at is None:
        Delivery.objects.filter(pk=delivery.pk, bounced_at__isnull=True).update(bounced_at=now)
    if client is None or client.bounced_at is not None:
        return
    sent = delivery.sent_at or delivery.created_at
    if client.reactivated_at is not None and sent <= client.reactivated_at:
        return
    if bounce.kind == SOFT and _soft_bounces(client, now) < settings.BOUNCE_SOFT_LIMIT:
        return
    client.bounced_at = now
    client.save(update_fields=["bounced_at"])


def _soft_bounces(client: Client, now: dt.datetime) -> int:
    """How many of the client's deliveries soft-bounced within BOUNCE_SOFT_DAYS days (distinct deliveries, not
    mails: the same message reported twice counts once), none from before its reactivation."""
    since = now - dt.timedelta(days=settings.BOUNCE_SOFT_DAYS)
    if client.reactivated_at is not None and client.reactivated_at > since:
        since = client.reactivated_at
    return (
        Bounce.objects.filter(client=client, kind=Bounce.Kind.SOFT, received_at__gte=since)
        .values("delivery_id")
        .distinct()
        .count()
    )


def _printable(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable()).encode("utf-8", "replace").decode("utf-8")
