"""What an owner sees of bounces (R-DLV-3, R-AUTH-4): the clients list's "bounced" filter and badge, the
client page's bounces with the raw mail as plain text, "Reactivate", "bounced after acceptance" in the
report; the same over GraphQL; the operator's read-only admin list. Another owner's ids are not found."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.mailings import selectors
from backend.mailings.bounces import record
from backend.mailings.models import Bounce, Client
from tests.api.helpers import data_of, error_codes, gql
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import bounce_domain, return_path, sent_deliveries  # noqa: F401
from tests.factories import ClientFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("bounce_domain")]


@pytest.fixture
def bounced(smtp):
    """A client of one owner whose mail bounced hard, with a reason holding markup."""
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn(return_path(delivery), delivery.email).replace(
        b"Recipient address rejected", b"<script>alert(1)</script> rejected"
    )
    bounce = record(raw, source=Bounce.Source.SMTP)
    assert bounce.kind == "hard"
    return bounce


def test_the_clients_list_filters_bounced_clients_and_shows_a_badge(client, bounced):
    owner = bounced.owner
    other = ClientFactory(owner=owner, full_name="Still fine")
    client.force_login(owner)
    everyone = client.get(reverse("clients:list")).content.decode()
    assert 'data-testid="bounced-badge"' in everyone and other.email in everyone
    only_bounced = client.get(reverse("clients:list") + "?bounced=yes").content.decode()
    assert bounced.email in only_bounced and other.email not in only_bounced
    not_bounced = client.get(reverse("clients:list") + "?bounced=no").content.decode()
    assert bounced.email not in not_bounced and other.email in not_bounced
    assert client.get(reverse("clients:list") + "?bounced=maybe").status_code == 200


def test_the_client_page_shows_the_bounce_its_reason_and_the_raw_mail_as_text(client, bounced):
    client.force_login(bounced.owner)
    page = client.get(reverse("clients:edit", args=[bounced.client_id])).content.decode()
    assert 'data-testid="bounced-alert"' in page and 'data-bounce="hard"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    raw_url = reverse("clients:bounce-raw", args=[bounced.pk])
    assert raw_url in page
    raw = client.get(raw_url)
    assert raw.status_code == 200
    assert raw["Content-Type"] == "text/plain; charset=utf-8"
    assert raw["X-Content-Type-Options"] == "nosniff" and "sandbox" in raw["Content-Security-Policy"]
    assert raw.content == bytes(bounced.raw)


def test_another_owners_bounce_raw_and_reactivation_are_not_found(client, bounced):
    intruder = UserFactory()
    client.force_login(intruder)
    assert client.get(reverse("clients:bounce-raw", args=[bounced.pk])).status_code == 404
    assert client.post(reverse("clients:reactivate", args=[bounced.client_id])).status_code == 404
    assert client.get(reverse("clients:edit", args=[bounced.client_id])).status_code == 404
    assert Client.objects.get(pk=bounced.client_id).bounced_at is not None
    # An unmatched bounce belongs to nobody: not even its raw mail is shown to an owner.
    stray = record(b"Subject: stray\r\n\r\nstray", source="stdin")
    client.force_login(bounced.owner)
    assert client.get(reverse("clients:bounce-raw", args=[stray.pk])).status_code == 404


def test_a_manager_gets_no_owner_pages_for_bounces(client, bounced):
    client.force_login(make_manager())
    assert_refused_page(client.get(reverse("clients:bounce-raw", args=[bounced.pk])))
    assert_refused_page(client.post(reverse("clients:reactivate", args=[bounced.client_id])))


def test_reactivate_is_a_post_that_clears_the_mark(client, bounced):
    client.force_login(bounced.owner)
    url = reverse("clients:reactivate", args=[bounced.client_id])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    reactivated = Client.objects.get(pk=bounced.client_id)
    assert reactivated.bounced_at is None and reactivated.reactivated_at is not None
    page = client.get(reverse("clients:edit", args=[bounced.client_id])).content.decode()
    assert 'data-testid="bounced-alert"' not in page and 'data-bounce="hard"' in page  # history stays


def test_the_report_shows_bounced_after_acceptance(client, bounced):
    client.force_login(bounced.owner)
    page = client.get(reverse("mailings:report", args=[bounced.delivery.mailing_id])).content.decode()
    assert 'data-testid="bounced-after-acceptance"' in page


def test_the_raw_page_says_when_the_raw_mail_was_deleted(client, bounced):
    from backend.mailings.retention import purge_bounce_raw

    client.force_login(bounced.owner)
    Bounce.objects.filter(pk=bounced.pk).update(received_at=bounced.received_at.replace(year=2020))
    assert purge_bounce_raw() == 1
    text = client.get(reverse("clients:bounce-raw", args=[bounced.pk])).content.decode()
    assert "deleted" in text and "Received" not in text


def test_correcting_a_bounced_clients_address_makes_it_a_recipient_again(client, bounced):
    client.force_login(bounced.owner)
    url = reverse("clients:edit", args=[bounced.client_id])
    # Another field changed (or only the address's case): still bounced.
    same = bounced.email.upper()
    assert client.post(url, {"email": same, "full_name": "Renamed", "comment": ""}).status_code == 302
    assert Client.objects.get(pk=bounced.client_id).bounced_at is not None
    assert (
        client.post(url, {"email": "fixed@example.org", "full_name": "Renamed", "comment": ""}).status_code
        == 302
    )
    fixed = Client.objects.get(pk=bounced.client_id)
    assert (fixed.email, fixed.bounced_at) == ("fixed@example.org", None)


# --- GraphQL -------------------------------------------------------------------------------------------

CLIENTS = """
query Clients($bounced: Boolean) {
  clients(bounced: $bounced, first: 10) {
    edges { node { id email bouncedAt bounces { id kind statusCode reason raw rawTruncated } } }
  }
}
"""

REACTIVATE = """
mutation Reactivate($id: ID!) {
  reactivateClient(id: $id) { client { id bouncedAt reactivatedAt } errors { field message code } }
}
"""


def client_id(pk: int) -> str:
    from graphql_relay import to_global_id

    return to_global_id("Client", pk)


def test_the_api_lists_bounced_clients_with_their_bounces(bounced):
    ClientFactory(owner=bounced.owner)
    edges = data_of(CLIENTS, {"bounced": True}, user=bounced.owner)["clients"]["edges"]
    assert len(edges) == 1
    node = edges[0]["node"]
    assert node["bouncedAt"] is not None
    (bounce,) = node["bounces"]
    assert (bounce["kind"], bounce["statusCode"]) == ("HARD", "5.1.1")
    assert bounce["raw"].startswith("Return-Path: <>")
    assert len(data_of(CLIENTS, {"bounced": False}, user=bounced.owner)["clients"]["edges"]) == 1


def test_the_api_reactivates_and_another_owners_id_is_not_found(bounced):
    intruder = UserFactory()
    _status, body = gql(REACTIVATE, {"id": client_id(bounced.client_id)}, user=intruder)
    assert error_codes(body) == ["NOT_FOUND"]
    assert Client.objects.get(pk=bounced.client_id).bounced_at is not None
    result = data_of(REACTIVATE, {"id": client_id(bounced.client_id)}, user=bounced.owner)["reactivateClient"]
    assert result["client"]["bouncedAt"] is None and result["client"]["reactivatedAt"] is not None


UPDATE = """
mutation Update($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) { client { id email bouncedAt } errors { field message code } }
}
"""


def test_the_api_clears_bounced_at_when_the_address_is_corrected(bounced):
    owner, gid = bounced.owner, client_id(bounced.client_id)
    renamed = {"id": gid, "input": {"email": bounced.email, "fullName": "Renamed"}}
    assert data_of(UPDATE, renamed, user=owner)["updateClient"]["client"]["bouncedAt"] is not None
    # Another owner cannot, whatever the input.
    fixed = {"id": gid, "input": {"email": "fixed@example.org", "fullName": "Renamed"}}
    _status, body = gql(UPDATE, fixed, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"]
    assert Client.objects.get(pk=bounced.client_id).bounced_at is not None
    result = data_of(UPDATE, fixed, user=owner)["updateClient"]
    assert result["errors"] == [] and result["client"]["bouncedAt"] is None


def test_another_owners_bounce_is_not_reachable_by_node_id(bounced):
    from graphql_relay import to_global_id

    query = "query($id: ID!) { node(id: $id) { ... on Bounce { reason raw } } }"
    _status, body = gql(query, {"id": to_global_id("Bounce", bounced.pk)}, user=UserFactory())
    assert body.get("data", {}).get("node") is None
    own = data_of(query, {"id": to_global_id("Bounce", bounced.pk)}, user=bounced.owner)
    assert own["node"]["raw"]


def test_a_bounces_limit_out_of_range_is_a_clear_error(bounced):
    query = "{ clients(first: 1) { edges { node { bounces(limit: 0) { id } } } } }"
    status, body = gql(query, user=bounced.owner)
    assert status == 200 and error_codes(body) == ["BAD_REQUEST"]


# --- admin -----------------------------------------------------------------------------------------------


def test_the_admin_lists_every_bounce_read_only_with_the_raw_mail_escaped(client, bounced):
    stray = record(b"Subject: <b>stray</b>\r\n\r\n<script>x()</script>", source="stdin")
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get(reverse("admin:mailings_bounce_changelist")).content.decode()
    assert bounced.email in listing and "not understood" in listing
    page = client.get(reverse("admin:mailings_bounce_change", args=[stray.pk])).content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page
    assert client.get(reverse("admin:mailings_bounce_add")).status_code == 403
    hard = Bounce.objects.exclude(kind="unclassified").first()
    assert client.get(reverse("admin:mailings_bounce_delete", args=[hard.pk])).status_code == 403
    assert "delete_selected" not in listing  # no bulk delete


def test_a_superuser_deletes_a_mail_not_understood_and_nobody_else_can(client, bounced):
    stray = record(b"Subject: hello\r\n\r\nnot a bounce", source="stdin")
    url = reverse("admin:mailings_bounce_delete", args=[stray.pk])
    client.force_login(UserFactory(is_staff=True, is_superuser=False))
    assert client.post(url, {"post": "yes"}).status_code in (302, 403)
    assert Bounce.objects.filter(pk=stray.pk).exists()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Bounce.objects.filter(pk=stray.pk).exists()


def test_bulk_tagging_every_match_keeps_the_bounced_filter(client, bounced):
    from backend.mailings.models import ClientTag
    from tests.factories import TagFactory

    owner = bounced.owner
    ClientFactory(owner=owner)
    tag = TagFactory(owner=owner)
    client.force_login(owner)
    response = client.post(
        reverse("clients:bulk"),
        {"action": "add", "tag": tag.pk, "scope": "matching", "q": "", "bounced_filter": "yes"},
    )
    assert response.status_code == 302
    assert list(ClientTag.objects.filter(tag=tag).values_list("client_id", flat=True)) == [bounced.client_id]


# --- lists never load the raw mail ---------------------------------------------------------------------

RAW_COLUMN = '"mailings_bounce"."raw"'


def bounce_selects(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "mailings_bounce"' in q["sql"]]


def test_lists_of_bounces_do_not_load_the_raw_mail(client, bounced):
    """Up to BOUNCE_RAW_MAX_BYTES a row: the selectors, the client page, the API's Client.bounces and the
    admin's list select every column but the raw mail; the raw view loads it."""
    owner = bounced.owner
    with CaptureQueriesContext(connection) as listed:
        rows = list(selectors.client_bounces(owner, bounced.client)) + list(selectors.bounces_for(owner))
    assert len(rows) == 2
    selects = bounce_selects(listed.captured_queries)
    assert selects and not any(RAW_COLUMN in sql for sql in selects)

    client.force_login(owner)
    with CaptureQueriesContext(connection) as page:
        assert client.get(reverse("clients:edit", args=[bounced.client_id])).status_code == 200
    selects = bounce_selects(page.captured_queries)
    assert selects and not any(RAW_COLUMN in sql for sql in selects)

    query = "{ clients(first: 10) { edges { node { bounces { id kind reason rawTruncated } } } } }"
    with CaptureQueriesContext(connection) as api:
        assert data_of(query, user=owner)["clients"]["edges"][0]["node"]["bounces"]
    selects = bounce_selects(api.captured_queries)
    assert selects and not any(RAW_COLUMN in sql for sql in selects)

    with CaptureQueriesContext(connection) as raw_view:
        assert client.get(reverse("clients:bounce-raw", args=[bounced.pk])).content == bytes(bounced.raw)
    assert any(RAW_COLUMN in sql for sql in bounce_selects(raw_view.captured_queries))

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with CaptureQueriesContext(connection) as changelist:
        assert client.get(reverse("admin:mailings_bounce_changelist")).status_code == 200
    selects = bounce_selects(changelist.captured_queries)
    assert selects and not any(RAW_COLUMN in sql for sql in selects)
    change = client.get(reverse("admin:mailings_bounce_change", args=[bounced.pk])).content.decode()
    assert "Return-Path: &lt;&gt;" in change
