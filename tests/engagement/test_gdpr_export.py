"""A person's data exported (R-ENG-4): everything Mailer holds about them as JSON, from the client's page
and from GraphQL, owner only; times in ISO 8601 UTC; read a chunk at a time."""

import datetime as dt
import json

import pytest
from django.test import Client as Browser
from django.urls import reverse
from graphql_relay import to_global_id

from backend.mailings import gdpr
from backend.mailings.models import Delivery, Occurrence
from tests.api.helpers import error_codes, gql
from tests.engagement import gdpr_world
from tests.engagement.gdpr_world import ADDRESS, LINK, NEEDLE
from tests.factories import make_manager
from tests.pages_helpers import assert_refused_page

pytestmark = pytest.mark.django_db

EXPORT = "query Export($id: ID!) { clientExport(id: $id) }"


@pytest.fixture
def world():
    return gdpr_world.build()


def is_utc(value: str | None) -> bool:
    return value is None or dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(0)


def every_time(document, path=""):
    """Every value under a key that names a time, anywhere in the document."""
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, dict | list):
                yield from every_time(value, f"{path}.{key}")
            elif key == "at" or key.endswith("_at") or key == "occurrence":
                yield f"{path}.{key}", value
    elif isinstance(document, list):
        for item in document:
            yield from every_time(item, path)


def check_complete(data: dict, w) -> None:
    assert data["format"] == gdpr.EXPORT_FORMAT
    client = data["client"]
    assert (client["id"], client["email"], client["full_name"], client["comment"]) == (
        w.client.pk,
        ADDRESS,
        "Ann Person",
        "met at the fair",
    )
    assert data["tags"] == ["customers"]
    assert [m["mailing_id"] for m in data["chosen_for_mailings"]] == [w.mailing.pk]
    [consent] = data["consents"]
    assert (consent["form"], consent["text_shown"], consent["requested_from"], consent["confirmed_from"]) == (
        "Footer",
        "I want the news.",
        "192.0.2.7",
        "192.0.2.8",
    )
    assert data["unsubscription"]["email"] == NEEDLE
    # The owner's three bounces (the client's, one about an earlier delivery, one by address); not the other
    # owner's; metadata without the raw mail.
    assert sorted(b["kind"] for b in data["bounces"]) == ["complaint", "hard", "soft"]
    assert all("raw" not in b for b in data["bounces"])
    deliveries = {d["id"]: d for d in data["deliveries"]}
    assert set(deliveries) == {w.sent.pk, w.earlier.pk, w.pending.pk}
    sent = deliveries[w.sent.pk]
    assert (sent["status"], sent["of_this_client"], sent["subject"]) == (
        "sent",
        True,
        w.mailing.message.subject,
    )
    assert [(a["outcome"], a["smtp_code"]) for a in sent["attempts"]] == [("sent", 250)]
    assert len(sent["opens"]) == 1 and sent["opens"][0]["user_agent"] == "Thunderbird"
    assert [c["url"] for c in sent["clicks"]] == [LINK]
    earlier = deliveries[w.earlier.pk]
    assert (earlier["of_this_client"], earlier["attempts"][0]["smtp_code"]) == (False, 550)
    assert deliveries[w.pending.pk]["status"] == "pending"
    times = list(every_time(data))
    assert len(times) > 20
    assert [path for path, value in times if not is_utc(value)] == []
    assert sent["sent_at"] == w.sent.sent_at.astimezone(dt.UTC).isoformat()


def test_the_export_holds_every_kind_of_record_with_utc_times_R_ENG_4(world):
    check_complete(json.loads("".join(gdpr.client_export(world.client))), world)


def test_the_owner_downloads_the_export_from_the_client_page_R_ENG_4(world):
    browser = Browser()
    browser.force_login(world.owner)
    edit = browser.get(reverse("clients:edit", args=[world.client.pk]))
    url = reverse("clients:data-export", args=[world.client.pk])
    assert url in edit.content.decode()
    response = browser.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    check_complete(json.loads(b"".join(response.streaming_content)), world)


def test_the_export_page_is_refused_to_anyone_else_R_ENG_4(world):
    url = reverse("clients:data-export", args=[world.client.pk])
    stranger = Browser()
    stranger.force_login(world.stranger)
    assert stranger.get(url).status_code == 404
    assert stranger.get(reverse("clients:data-export", args=[999_999])).status_code == 404
    anonymous = Browser().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    manager = Browser()
    manager.force_login(make_manager())
    assert_refused_page(manager.get(url))


def test_the_export_through_graphql_R_ENG_4(world):
    status, body = gql(EXPORT, {"id": to_global_id("Client", world.client.pk)}, user=world.owner)
    assert status == 200 and "errors" not in body
    check_complete(json.loads(body["data"]["clientExport"]), world)


@pytest.mark.parametrize("bad_id", ["another owner's", "garbage", "a tag's"])
def test_the_graphql_export_is_not_found_for_anything_but_your_own_client_R_ENG_4(world, bad_id):
    the_id = {
        "another owner's": to_global_id("Client", world.client.pk),
        "garbage": "not an id",
        "a tag's": to_global_id("Tag", world.client.pk),
    }[bad_id]
    user = world.stranger if bad_id == "another owner's" else world.owner
    _status, body = gql(EXPORT, {"id": the_id}, user=user)
    assert error_codes(body) == ["NOT_FOUND"]
    assert (body.get("data") or {}).get("clientExport") is None
    assert NEEDLE not in json.dumps(body).lower()


def test_the_graphql_export_needs_a_signed_in_user_R_ENG_4(world):
    _status, body = gql(EXPORT, {"id": to_global_id("Client", world.client.pk)})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert NEEDLE not in json.dumps(body).lower()


def test_an_export_of_10000_deliveries_reads_them_in_chunks_R_ENG_4(world, django_assert_max_num_queries):
    occurrence = Occurrence.objects.create(
        mailing=world.mailing, scheduled_for=world.running.scheduled_for.replace(year=2001)
    )
    Delivery.objects.bulk_create(
        [
            Delivery(mailing=world.mailing, occurrence=occurrence, email=ADDRESS, status="sent")
            for _ in range(10_000)
        ],
        batch_size=2000,
    )
    with django_assert_max_num_queries(15 + 3 * (10_003 // gdpr.EXPORT_CHUNK + 1)):
        pieces = list(gdpr.client_export(world.client))
    assert len(json.loads("".join(pieces))["deliveries"]) == 10_003
