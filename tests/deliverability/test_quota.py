"""Daily sending quotas (R-DLV-5): the quota of a new and an old account and a manager's override; the engine
stops at the quota with a real SMTP server on loopback and sends the rest on the owner's next day; what a pass
gives back untried does not use the quota; a paused owner's deliveries are not claimed; the warning a save
gives on the pages and in the API."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings import limits
from backend.mailings.models import Delivery, Mailing, Occurrence, SendQuotaDay
from backend.mailings.sending import queue, send_due
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.summary import PassSummary
from tests.api.helpers import data_of
from tests.factories import ClientFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def quotas(settings):
    settings.SEND_QUOTA_DAILY = 1000
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 5
    settings.SEND_QUOTA_NEW_ACCOUNT_DAYS = 7
    return settings


def old_account(**fields):
    return UserFactory(date_joined=timezone.now() - dt.timedelta(days=30), **fields)


# --- the quota ---


def test_a_new_account_has_the_new_account_quota_an_old_one_the_default_R_DLV_5(quotas):
    now = timezone.now()
    assert limits.daily_quota(UserFactory(), now) == 5
    assert limits.daily_quota(UserFactory(date_joined=now - dt.timedelta(days=6, hours=23)), now) == 5
    assert limits.daily_quota(old_account(), now) == 1000


def test_a_managers_override_wins_and_zero_means_no_limit(quotas):
    assert limits.daily_quota(UserFactory(send_quota_daily=50)) == 50
    assert limits.daily_quota(old_account(send_quota_daily=3)) == 3
    assert limits.daily_quota(UserFactory(send_quota_daily=0)) is None


def test_zero_settings_mean_no_limit(settings):
    settings.SEND_QUOTA_DAILY = 0
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 0
    assert limits.daily_quota(UserFactory()) is None
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 20
    assert limits.daily_quota(UserFactory()) == 20
    assert limits.daily_quota(old_account()) is None


def test_the_day_is_the_owners_own_calendar_day():
    owner = UserFactory(time_zone="Asia/Tokyo")
    # 16:30 UTC is 01:30 the next day in Tokyo: the count is of that day, and it ends at Tokyo's midnight.
    now = dt.datetime(2030, 5, 1, 16, 30, tzinfo=dt.UTC)
    assert limits.quota_day(owner, now) == dt.date(2030, 5, 2)
    tokyo_midnight = dt.datetime(2030, 5, 3, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert limits.next_day_start(owner, now) == tokyo_midnight
    assert limits.next_day_start(owner, now) == dt.datetime(2030, 5, 2, 15, 0, tzinfo=dt.UTC)


# --- the engine ---


def test_the_engine_stops_at_the_quota_and_sends_the_rest_the_next_day_R_DLV_5(quotas, smtp):
    mailing = due_mailing(clients=8)
    owner = mailing.owner
    summary = send_due()
    assert len(smtp.received) == 5
    assert summary.sent == 5 and summary.deferred == 3
    assert limits.sent_today(owner) == 5
    waiting = Delivery.objects.filter(mailing=mailing, status=Delivery.Status.PENDING)
    assert waiting.count() == 3
    resumes = limits.next_day_start(owner)
    assert set(waiting.values_list("next_attempt_at", flat=True)) == {resumes}
    # Not tried: no attempt, no answer, and no lease left on them.
    assert set(waiting.values_list("attempts", "last_response", "claim_token")) == {(0, "", "")}

    # Another pass the same day sends nothing more and claims nothing in a loop.
    again = send_due()
    assert len(smtp.received) == 5 and again.deferred == 0

    tomorrow = send_due(now=timezone.now() + dt.timedelta(days=1))
    assert tomorrow.sent == 3
    assert len(smtp.received) == 8
    assert sorted(smtp.recipients()) == sorted(mailing.clients.values_list("email", flat=True))
    assert not Delivery.objects.filter(mailing=mailing).exclude(status=Delivery.Status.SENT).exists()


def test_the_mailing_page_says_the_rest_waits_for_tomorrows_quota(quotas, smtp, client):
    mailing = due_mailing(clients=7)
    send_due()
    client.force_login(mailing.owner)
    html = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    assert 'data-testid="quota-wait"' in html
    assert "Waiting for tomorrow's quota" in html


def test_a_batch_given_back_untried_does_not_use_the_quota(quotas):
    mailing = due_mailing(clients=4, owner=UserFactory(send_quota_daily=3))
    now = timezone.now()
    start_due(now, PassSummary())
    claimed = queue.claim(now=now, occurrence_ids=None, batch=10, lease_until=now + dt.timedelta(minutes=5))
    assert len(claimed.jobs) == 3 and claimed.deferred == 1
    assert limits.sent_today(mailing.owner) == 3
    assert queue.release(claimed.jobs, due_at=now) == 3
    assert limits.sent_today(mailing.owner) == 0
    again = queue.claim(now=now, occurrence_ids=None, batch=10, lease_until=now + dt.timedelta(minutes=5))
    assert len(again.jobs) == 3
    assert limits.sent_today(mailing.owner) == 3


def test_owners_are_counted_apart(quotas, smtp):
    first = due_mailing(clients=6)
    second = due_mailing(clients=2)
    send_due()
    assert len(smtp.received) == 7
    assert limits.sent_today(first.owner) == 5 and limits.sent_today(second.owner) == 2


def test_a_paused_owners_deliveries_are_not_claimed_R_DLV_5(smtp, client):
    mailing = due_mailing(clients=3)
    start_due(timezone.now(), PassSummary())
    type(mailing.owner).objects.filter(pk=mailing.owner_id).update(
        sending_paused_at=timezone.now(), sending_paused_reason="bounces"
    )
    paused_later = due_mailing(clients=2, owner=mailing.owner)
    summary = send_due()
    assert smtp.received == [] and summary.sent == 0
    assert Delivery.objects.filter(mailing=mailing, status=Delivery.Status.PENDING).count() == 3
    assert not Occurrence.objects.filter(mailing=paused_later).exists()
    client.force_login(mailing.owner)
    html = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    assert 'data-testid="sending-paused"' in html and "a manager reviews" in html
    html = client.get(reverse("mailings:list")).content.decode()
    assert 'data-testid="sending-paused"' in html
    html = client.get(reverse("web:dashboard")).content.decode()
    assert 'data-testid="sending-paused"' in html and "bounces" in html
    response = client.post(reverse("mailings:send_now", args=[paused_later.pk]), follow=True)
    assert "Sending is paused for this account" in response.content.decode()
    assert not Occurrence.objects.filter(mailing=paused_later).exists()


def test_a_blocked_owners_deliveries_are_not_claimed(smtp):
    mailing = due_mailing(clients=2)
    start_due(timezone.now(), PassSummary())
    type(mailing.owner).objects.filter(pk=mailing.owner_id).update(is_blocked=True)
    assert send_due().sent == 0 and smtp.received == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_passes_at_once_never_pass_the_quota_postgresql(postgresql_only, quotas, smtp):
    """Two schedulers' passes in two threads, each with three workers taking two deliveries at a time: the
    owner's count row, locked in each claim's transaction, keeps them to the quota between them."""
    import threading

    from django.db import connection

    quotas.MAILER_SEND_WORKERS = 3
    quotas.MAILER_CLAIM_BATCH = 2
    mailing = due_mailing(clients=30, owner=UserFactory(send_quota_daily=7))
    start_due(timezone.now(), PassSummary())
    summaries = []

    def run():
        try:
            summaries.append(send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(smtp.received) == 7
    assert sum(summary.sent for summary in summaries) == 7
    assert limits.sent_today(mailing.owner) == 7
    assert SendQuotaDay.objects.get(owner=mailing.owner).handed == 7
    assert Delivery.objects.filter(mailing=mailing, status=Delivery.Status.PENDING).count() == 23


# --- what a save says ---


def _chosen_mailing_form(owner, clients: int, *, start: dt.datetime, periodicity: str = "daily") -> dict:
    local = start.astimezone(owner.tz)
    return {
        "message": MessageFactory(owner=owner).pk,
        "audience": "clients",
        "clients_added": [ClientFactory(owner=owner).pk for _ in range(clients)],
        "start_at": local.strftime("%Y-%m-%dT%H:%M"),
        "end_at": (local + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "periodicity": periodicity,
    }


def test_saving_a_mailing_larger_than_the_quota_warns_on_the_page_and_saves_it(quotas, client):
    owner = UserFactory()
    client.force_login(owner)
    data = _chosen_mailing_form(owner, 7, start=timezone.now() + dt.timedelta(days=3))
    response = client.post(reverse("mailings:new"), data, follow=True)
    html = response.content.decode()
    assert Mailing.objects.filter(owner=owner).count() == 1
    assert "more than your daily sending quota of 5 messages" in html
    assert "the rest waits for the following days" in html


def test_a_send_today_larger_than_what_is_left_warns_but_one_that_fits_does_not(quotas, client):
    owner = UserFactory()
    SendQuotaDay.objects.create(owner=owner, day=limits.quota_day(owner), handed=2)
    client.force_login(owner)
    data = _chosen_mailing_form(owner, 4, start=timezone.now())
    html = client.post(reverse("mailings:new"), data, follow=True).content.decode()
    assert "3 messages are left of today&#x27;s sending quota" in html
    assert "the rest waits until tomorrow" in html
    data = _chosen_mailing_form(owner, 3, start=timezone.now())
    html = client.post(reverse("mailings:new"), data, follow=True).content.decode()
    assert "sending quota" not in html
    # Next week's send is measured against the whole daily quota, not what is left today.
    data = _chosen_mailing_form(owner, 4, start=timezone.now() + dt.timedelta(days=7))
    html = client.post(reverse("mailings:new"), data, follow=True).content.decode()
    assert "sending quota" not in html


def test_send_now_says_what_waits_for_tomorrow(quotas, client):
    mailing = due_mailing(clients=6, start_at=timezone.now() + dt.timedelta(days=2))
    client.force_login(mailing.owner)
    response = client.post(reverse("mailings:send_now", args=[mailing.pk]), follow=True)
    html = response.content.decode()
    assert "Queued for 6 recipients" in html
    assert "more than your daily sending quota of 5 messages" in html


CREATE = """
mutation Create($input: MailingInput!) {
  createMailing(input: $input) { mailing { id } quotaWarning errors { field code } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: MailingInput!) {
  updateMailing(id: $id, input: $input) { mailing { id } quotaWarning errors { field code } }
}
"""
SEND_NOW = "mutation Send($id: ID!) { sendMailingNow(id: $id) { queued quotaWarning errors { code } } }"


def _input(owner, clients: int, start: dt.datetime) -> dict:
    return {
        "messageId": to_global_id("Message", MessageFactory(owner=owner).pk),
        "clientIds": [to_global_id("Client", ClientFactory(owner=owner).pk) for _ in range(clients)],
        "startAt": start.isoformat(),
        "endAt": (start + dt.timedelta(days=30)).isoformat(),
        "periodicity": "DAILY",
    }


def test_the_api_returns_the_same_warning_and_saves_the_mailing(quotas):
    owner = UserFactory()
    start = timezone.now() + dt.timedelta(days=1)
    payload = data_of(CREATE, {"input": _input(owner, 6, start)}, user=owner)["createMailing"]
    assert payload["errors"] == [] and payload["mailing"]
    assert "more than your daily sending quota of 5 messages" in payload["quotaWarning"]
    fits = data_of(CREATE, {"input": _input(owner, 2, start)}, user=owner)["createMailing"]
    assert fits["quotaWarning"] is None
    updated = data_of(UPDATE, {"id": fits["mailing"]["id"], "input": _input(owner, 9, start)}, user=owner)[
        "updateMailing"
    ]
    assert "rest waits for the following days" in updated["quotaWarning"]
    sent = data_of(SEND_NOW, {"id": fits["mailing"]["id"]}, user=owner)["sendMailingNow"]
    assert sent["queued"] == 9 and "quota" in sent["quotaWarning"]


def test_no_warning_without_a_quota(settings):
    owner = UserFactory()
    payload = data_of(CREATE, {"input": _input(owner, 6, timezone.now())}, user=owner)["createMailing"]
    assert payload["quotaWarning"] is None


ME = "{ me { sendQuotaDaily sendQuotaOverride sentToday sendingPausedAt sendingPausedReason } }"


def test_an_owner_sees_their_quota_and_usage_in_me_and_on_the_dashboard(quotas, client):
    owner = UserFactory()
    SendQuotaDay.objects.create(owner=owner, day=limits.quota_day(owner), handed=2)
    assert data_of(ME, user=owner)["me"] == {
        "sendQuotaDaily": 5,
        "sendQuotaOverride": None,
        "sentToday": 2,
        "sendingPausedAt": None,
        "sendingPausedReason": "",
    }
    client.force_login(owner)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert "Daily sending quota: 2 of 5 sent today, 3 left" in html
