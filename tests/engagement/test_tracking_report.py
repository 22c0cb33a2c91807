"""R-ENG-2: opens and clicks on the report page and in `mailingReport`: unique opens by people, machine
opens apart, unique clickers, clicks per link, click-through rate, the first 48 hours per hour; per send
and per mailing; another owner's mailing is not found; the number of queries does not grow."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from graphql_relay import to_global_id

from backend.mailings.models import EngagementEvent, TrackedLink
from tests.api.helpers import data_of, error_codes, gql
from tests.engagement.helpers import sent_deliveries, tracked_mailing
from tests.factories import UserFactory
from tests.pages_helpers import queries_for

pytestmark = pytest.mark.django_db

REPORT = """
query Report($id: ID!) {
  mailingReport(id: $id) {
    engagement { sent opened machineOpened clicked clicks openRate clickRate openCurve clickCurve
                 links { url clicks clickers } }
    occurrenceEngagement { occurrence { id } engagement { sent opened clicked links { url clicks } } }
  }
}
"""


def event(delivery, kind, *, hours: float, link=None, machine=False):
    occurrence = delivery.occurrence
    return EngagementEvent.objects.create(
        kind=kind,
        mailing_id=delivery.mailing_id,
        occurrence_id=delivery.occurrence_id,
        delivery=delivery,
        link=link,
        at=occurrence.scheduled_for + dt.timedelta(hours=hours),
        is_machine=machine,
    )


def links_of(mailing, n: int = 2) -> list[TrackedLink]:
    return [
        TrackedLink.objects.create(
            mailing=mailing, url=f"https://example.org/{mailing.pk}/{i}", url_hash=f"{i}"
        )
        for i in range(n)
    ]


@pytest.fixture
def world():
    """4 sent; delivery 0 opened twice and clicked link A twice; delivery 1 opened by a proxy only;
    delivery 2 clicked link B (no open seen: images off); delivery 3 nothing but a scanner's click."""
    mailing = tracked_mailing(clients=4)
    deliveries = sent_deliveries(mailing, sent_ago=dt.timedelta(hours=5))
    a, b = links_of(mailing)
    event(deliveries[0], "open", hours=2.5)
    event(deliveries[0], "open", hours=3.1)
    event(deliveries[0], "click", hours=2.6, link=a)
    event(deliveries[0], "click", hours=3.2, link=a)
    event(deliveries[1], "open", hours=0, machine=True)
    event(deliveries[2], "click", hours=1.5, link=b)
    event(deliveries[3], "click", hours=0, link=a, machine=True)
    return mailing, deliveries, a, b


def test_r_eng_2_mailing_report_api_counts_people_and_machines_apart(world):
    mailing, deliveries, a, b = world
    report = data_of(REPORT, {"id": to_global_id("Mailing", mailing.pk)}, user=mailing.owner)["mailingReport"]
    engagement = report["engagement"]
    assert {key: engagement[key] for key in ("sent", "opened", "machineOpened", "clicked", "clicks")} == {
        "sent": 4,
        "opened": 1,
        "machineOpened": 1,
        "clicked": 2,
        "clicks": 3,
    }
    assert engagement["openRate"] == 0.25 and engagement["clickRate"] == 0.5
    assert engagement["links"] == [
        {"url": a.url, "clicks": 2, "clickers": 1},
        {"url": b.url, "clicks": 1, "clickers": 1},
    ]
    assert len(engagement["openCurve"]) == 48 and len(engagement["clickCurve"]) == 48
    assert (
        engagement["openCurve"][2] == 1
        and engagement["openCurve"][3] == 1
        and sum(engagement["openCurve"]) == 2
    )
    assert engagement["clickCurve"][1:4] == [1, 1, 1] and sum(engagement["clickCurve"]) == 3
    (send,) = report["occurrenceEngagement"]
    assert send["occurrence"]["id"] == to_global_id("Occurrence", deliveries[0].occurrence_id)
    assert (send["engagement"]["opened"], send["engagement"]["clicked"]) == (1, 2)


def test_r_eng_2_each_send_has_its_own_figures(world):
    mailing, _, a, _ = world
    second = sent_deliveries(mailing, sent_ago=dt.timedelta(hours=1))
    event(second[0], "open", hours=0.5)
    event(second[0], "click", hours=0.6, link=a)
    report = data_of(REPORT, {"id": to_global_id("Mailing", mailing.pk)}, user=mailing.owner)["mailingReport"]
    sends = [send["engagement"] for send in report["occurrenceEngagement"]]
    assert [(s["sent"], s["opened"], s["clicked"]) for s in sends] == [(4, 1, 2), (4, 1, 1)]
    assert sends[1]["links"] == [{"url": a.url, "clicks": 1}]
    assert report["engagement"]["opened"] == 2 and report["engagement"]["sent"] == 8


def test_r_eng_2_another_owners_mailing_report_is_not_found(world, client):
    mailing, *_ = world
    stranger = UserFactory()
    _, body = gql(REPORT, {"id": to_global_id("Mailing", mailing.pk)}, user=stranger)
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] is None
    client.force_login(stranger)
    assert client.get(reverse("mailings:report", args=[mailing.pk])).status_code == 404


def test_r_eng_2_the_report_page_shows_opens_clicks_links_and_explains_machine_opens(world, client):
    mailing, _, a, b = world
    client.force_login(mailing.owner)
    html = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    section = html.split('data-testid="engagement"')[1].split('id="sends"')[0]
    assert '<dd class="col-sm-8" data-testid="opened">1 <span class="text-body-secondary">(25.0' in section
    assert 'data-testid="machine-opened">1<' in section
    assert 'data-testid="clicked">2 ' in section and "(click-through rate 50.0" in section
    assert 'data-testid="clicks">3<' in section
    assert "privacy protection" in section and "machine opens" in section
    rows = section.split('data-testid="links"')[1]
    assert rows.index(a.url) < rows.index(b.url)
    assert "data-engagement-chart" in section
    sends = html.split('data-testid="occurrences"')[1]
    assert 'data-count="opened">1<' in sends and 'data-count="clicked">2<' in sends


def test_r_eng_2_the_tracking_switch_is_on_the_form_and_off_is_said_on_the_report(client):
    mailing = tracked_mailing(tracking=False)
    client.force_login(mailing.owner)
    assert (
        'data-testid="tracking-off"'
        in client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    )
    form = client.get(reverse("mailings:edit", args=[mailing.pk])).content.decode()
    assert 'name="tracking"' in form and 'name="tracking_shown"' in form
    detail = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    assert "not counted: links lead straight to their pages" in detail


def test_r_eng_2_report_queries_do_not_grow_with_events_links_or_sends(world, client):
    mailing, *_ = world
    client.force_login(mailing.owner)
    url = reverse("mailings:report", args=[mailing.pk])
    variables = {"id": to_global_id("Mailing", mailing.pk)}

    def api_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            data_of(REPORT, variables, user=mailing.owner)
        return len(captured.captured_queries)

    few_page, few_api = queries_for(client, url), api_queries()
    for n in range(3):
        more = sent_deliveries(mailing)
        extra = TrackedLink.objects.create(
            mailing=mailing, url=f"https://example.org/more/{n}", url_hash=f"more{n}"
        )
        for delivery in more:
            event(delivery, "open", hours=1)
            event(delivery, "click", hours=1, link=extra)
    assert queries_for(client, url) == few_page
    assert api_queries() == few_api


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r_eng_2_opens_and_clicks_outlive_the_purged_delivery_log(settings):
    """The delivery log's retention deletes deliveries with a raw DELETE (R-DATA-4): the events of those
    deliveries neither block it (no foreign-key constraint) nor go with it: the report keeps its figures."""
    from django.utils import timezone

    from backend.mailings import retention
    from backend.mailings.models import Delivery, Occurrence

    mailing = tracked_mailing(clients=2)
    deliveries = sent_deliveries(mailing, sent_ago=dt.timedelta(days=100))
    (link,) = links_of(mailing, 1)
    event(deliveries[0], "open", hours=1)
    event(deliveries[0], "click", hours=1, link=link)
    Occurrence.objects.filter(pk=deliveries[0].occurrence_id).update(
        finished_at=timezone.now() - dt.timedelta(days=99),
        sent_total=2,
        failed_total=0,
        skipped_total=0,
        deliveries_total=2,
    )
    assert retention.purge_delivery_log(days=90) == 2
    assert not Delivery.objects.exists()
    report = data_of(REPORT, {"id": to_global_id("Mailing", mailing.pk)}, user=mailing.owner)["mailingReport"]
    engagement = report["engagement"]
    assert (engagement["sent"], engagement["opened"], engagement["clicked"]) == (2, 1, 1)
    assert engagement["links"] == [{"url": link.url, "clicks": 1, "clickers": 1}]
    mailing.delete()  # the mailing's events go with it
    assert not EngagementEvent.objects.exists()
