"""What Mailer holds about one person in one owner's list (R-ENG-4): the rows that name them, their counts
before an erasure, and their export as one JSON document.

A person is a client row and their address. Deliveries keep the address they were sent to (a deleted client's
deliveries stay in the reports), so the person's deliveries are the client's and every delivery of the same
owner to the same address in any letter case; bounces, consents and the unsubscription are matched the same
way. Reads only: the erasure is `services.client_erase`.
"""

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from .models import (
    Bounce,
    Client,
    ClientTag,
    Consent,
    Delivery,
    DeliveryAttempt,
    EngagementEvent,
    Mailing,
    Unsubscription,
)

# Deliveries read per query by the export: attempts and events follow in one query each per chunk, so a
# client with 10,000 deliveries costs about 60 short queries and never holds more than one chunk.
EXPORT_CHUNK = 500
EXPORT_FORMAT = "mailer-client-export/1"


def address_of(client: Client) -> str:
    return client.email.strip().lower()


def person_deliveries(client: Client) -> QuerySet[Delivery]:
    """The client's deliveries and the owner's other deliveries to the same address (those of an earlier
    client row with it, which the deletion left with the address only)."""
    return Delivery.objects.alias(address=Lower("email")).filter(
        Q(client_id=client.pk) | Q(mailing__owner_id=client.owner_id, address=address_of(client))
    )


def person_bounces(client: Client) -> QuerySet[Bounce]:
    """The bounces and complaints about the person: the client's, those about their deliveries, and the
    owner's others for the address (served by the (owner, LOWER(email)) index)."""
    return Bounce.objects.alias(address=Lower("email")).filter(
        Q(client_id=client.pk)
        | Q(owner_id=client.owner_id, address=address_of(client))
        | Q(delivery__in=person_deliveries(client).values("pk"))
    )


def person_consents(client: Client) -> QuerySet[Consent]:
    return Consent.objects.alias(address=Lower("email")).filter(
        Q(client_id=client.pk) | Q(owner_id=client.owner_id, address=address_of(client))
    )


def person_unsubscription(client: Client) -> QuerySet[Unsubscription]:
    return Unsubscription.objects.filter(owner_id=client.owner_id, email=address_of(client))


@dataclass(frozen=True)
class PersonCounts:
    """What an erasure deletes, counted for its confirmation page."""

    deliveries: int
    attempts: int
    opens: int
    clicks: int
    bounces: int
    consents: int
    tags: int
    mailings: int
    unsubscribed: bool


def person_counts(client: Client) -> PersonCounts:
    deliveries = person_deliveries(client).values("pk")
    events = EngagementEvent.objects.filter(delivery__in=deliveries)
    return PersonCounts(
        deliveries=person_deliveries(client).count(),
        attempts=DeliveryAttempt.objects.filter(delivery__in=deliveries).count(),
        opens=events.filter(kind=EngagementEvent.Kind.OPEN).count(),
        clicks=events.filter(kind=EngagementEvent.Kind.CLICK).count(),
        bounces=person_bounces(client).count(),
        consents=person_consents(client).count(),
        tags=ClientTag.objects.filter(client_id=client.pk).count(),
        mailings=Mailing.clients.through.objects.filter(client_id=client.pk).count(),
        unsubscribed=person_unsubscription(client).exists(),
    )


def utc(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC, with its offset ("+00:00"), or None."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _client_fields(client: Client) -> dict:
    return {
        "id": client.pk,
        "email": client.email,
        "full_name": client.full_name,
        "comment": client.comment,
        "created_at": utc(client.created_at),
        "subscribed": client.unsubscribed_at is None,
        "unsubscribed_at": utc(client.unsubscribed_at),
        "bounced_at": utc(client.bounced_at),
        "reactivated_at": utc(client.reactivated_at),
        "last_opened_at": utc(client.last_opened_at),
        "last_clicked_at": utc(client.last_clicked_at),
    }


def _consents(client: Client) -> list[dict]:
    rows = (
        person_consents(client)
        .order_by("confirmed_at", "pk")
        .values(
            "email",
            "text",
            "requested_at",
            "requested_ip",
            "confirmed_at",
            "confirmed_ip",
            "user_agent",
            form_name=F("form__name"),
        )
    )
    return [
        {
            "form": row["form_name"],
            "email": row["email"],
            "text_shown": row["text"],
            "requested_at": utc(row["requested_at"]),
            "requested_from": row["requested_ip"],
            "confirmed_at": utc(row["confirmed_at"]),
            "confirmed_from": row["confirmed_ip"],
            "browser": row["user_agent"],
        }
        for row in rows
    ]


def _bounces(client: Client) -> list[dict]:
    # The metadata only: the raw mail is the message Mailer sent them wrapped in their mail server's report
    # (up to BOUNCE_RAW_MAX_BYTES, binary); its meaning is in the kind, status code and reason given here.
    rows = (
        person_bounces(client)
        .order_by("received_at", "pk")
        .values(
            "kind", "source", "received_at", "email", "envelope_to", "status_code", "reason", "delivery_id"
        )
    )
    return [
        {
            "kind": row["kind"],
            "read_from": row["source"],
            "received_at": utc(row["received_at"]),
            "recipient": row["email"],
            "sent_to": row["envelope_to"],
            "status_code": row["status_code"],
            "reason": row["reason"],
            "delivery_id": row["delivery_id"],
        }
        for row in rows
    ]


def _deliveries(ids: list[int]) -> Iterator[dict]:
    for start in range(0, len(ids), EXPORT_CHUNK):
        chunk = ids[start : start + EXPORT_CHUNK]
        attempts: dict[int, list[dict]] = {pk: [] for pk in chunk}
        for row in (
            DeliveryAttempt.objects.filter(delivery_id__in=chunk)
            .order_by("attempted_at", "pk")
            .values("delivery_id", "attempted_at", "outcome", "smtp_code", "response")
        ):
            attempts[row["delivery_id"]].append(
                {
                    "at": utc(row["attempted_at"]),
                    "outcome": row["outcome"],
                    "smtp_code": row["smtp_code"],
                    "server_answer": row["response"],
                }
            )
        events: dict[int, dict[str, list[dict]]] = {pk: {"opens": [], "clicks": []} for pk in chunk}
        for row in (
            EngagementEvent.objects.filter(delivery_id__in=chunk)
            .order_by("at", "pk")
            .values("delivery_id", "kind", "at", "is_machine", "user_agent", url=F("link__url"))
        ):
            event = {"at": utc(row["at"]), "by_a_machine": row["is_machine"], "user_agent": row["user_agent"]}
            if row["kind"] == EngagementEvent.Kind.CLICK:
                events[row["delivery_id"]]["clicks"].append({**event, "url": row["url"]})
            else:
                events[row["delivery_id"]]["opens"].append(event)
        rows = (
            Delivery.objects.filter(pk__in=chunk)
            .order_by("pk")
            .values(
                "pk",
                "mailing_id",
                "client_id",
                "email",
                "status",
                "attempts",
                "created_at",
                "last_attempt_at",
                "next_attempt_at",
                "sent_at",
                "bounced_at",
                subject=F("mailing__message__subject"),
                scheduled_for=F("occurrence__scheduled_for"),
            )
        )
        for row in rows:
            yield {
                "id": row["pk"],
                "mailing_id": row["mailing_id"],
                "subject": row["subject"],
                "occurrence": utc(row["scheduled_for"]),
                "of_this_client": row["client_id"] is not None,
                "email": row["email"],
                "status": row["status"],
                "attempt_count": row["attempts"],
                "queued_at": utc(row["created_at"]),
                "last_attempt_at": utc(row["last_attempt_at"]),
                "next_attempt_at": utc(row["next_attempt_at"]),
                "sent_at": utc(row["sent_at"]),
                "bounced_after_acceptance_at": utc(row["bounced_at"]),
                "attempts": attempts[row["pk"]],
                **events[row["pk"]],
            }


def client_export(client: Client) -> Iterator[str]:
    """Everything Mailer holds about the person, as the pieces of one JSON document (streamed by the page,
    joined by the API). The caller has checked that the client is the viewer's (`selectors.client_get`)."""
    unsubscription = person_unsubscription(client).first()
    tags = list(client.tags.order_by("name", "pk").values_list("name", flat=True))
    mailings = list(
        Mailing.objects.filter(clients=client).order_by("pk").values("pk", subject=F("message__subject"))
    )
    head = {
        "format": EXPORT_FORMAT,
        "exported_at": utc(timezone.now()),
        "client": _client_fields(client),
        "tags": tags,
        "chosen_for_mailings": [{"mailing_id": row["pk"], "subject": row["subject"]} for row in mailings],
        "consents": _consents(client),
        "unsubscription": None
        if unsubscription is None
        else {"email": unsubscription.email, "unsubscribed_at": utc(unsubscription.created_at)},
        "bounces": _bounces(client),
    }
    yield _json(head)[:-1] + ', "deliveries": ['
    ids = list(person_deliveries(client).order_by("pk").values_list("pk", flat=True))
    for index, delivery in enumerate(_deliveries(ids)):
        yield ("," if index else "") + _json(delivery)
    yield "]}"
