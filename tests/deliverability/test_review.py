"""Automatic protection and the managers' review (R-DLV-5): an owner over the bounce or complaint threshold on
enough sends is paused and the decision recorded; not under the minimum sample; idempotent; after a resume
only new sends count. Managers see "needs review" with the figures, resume, block and set quotas through the
API (recorded as decisions); owners and mailings-only managers are refused."""

import datetime as dt
import hashlib
import itertools

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from graphql_relay import to_global_id

from backend.accounts.models import SendingDecision, User
from backend.mailings import limits, services
from backend.mailings.models import Bounce, Client, Delivery, Occurrence
from backend.mailings.sending import send_due
from backend.web.pages.manager import OPERATIONS
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import MailingFactory, UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

_serial = itertools.count()


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.BOUNCE_RATE_THRESHOLD = 0.05
    settings.COMPLAINT_RATE_THRESHOLD = 0.001
    settings.SEND_REVIEW_WINDOW = 500
    settings.SEND_REVIEW_DAYS = 30
    settings.SEND_REVIEW_MIN_SENT = 100
    return settings


def sends(owner: User, count: int, *, bounced: int = 0, at: dt.datetime | None = None) -> list[Delivery]:
    """`count` deliveries of `owner` sent at `at`, the first `bounced` of them bounced after acceptance."""
    at = at or timezone.now() - dt.timedelta(hours=2)
    mailing = MailingFactory(owner=owner)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=at)
    n = next(_serial)
    clients = Client.objects.bulk_create(
        [Client(owner=owner, email=f"r{n}-{i}@example.org", full_name="R") for i in range(count)]
    )
    return Delivery.objects.bulk_create(
        [
            Delivery(
                mailing=mailing,
                occurrence=occurrence,
                client=client,
                email=client.email,
                status=Delivery.Status.SENT,
                sent_at=at,
                bounced_at=at + dt.timedelta(minutes=5) if i < bounced else None,
            )
            for i, client in enumerate(clients)
        ]
    )


def bounce(delivery: Delivery, kind: str) -> Bounce:
    raw = f"{kind}-{delivery.pk}-{next(_serial)}".encode()
    return Bounce.objects.create(
        kind=kind,
        source=Bounce.Source.SMTP,
        received_at=timezone.now() - dt.timedelta(hours=1),
        owner_id=delivery.mailing.owner_id,
        delivery=delivery,
        email=delivery.email,
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
    )


def paused(user: User) -> bool:
    return User.objects.get(pk=user.pk).sending_paused_at is not None


# --- the automatic review -------------------------------------------------------------------------------


def test_a_bounce_rate_over_the_threshold_pauses_and_records_the_decision_R_DLV_5():
    owner, fine = UserFactory(), UserFactory()
    sends(owner, 100, bounced=6)
    sends(fine, 100, bounced=5)  # 5%: not over
    assert services.review_senders() == [owner.pk]
    assert paused(owner) and not paused(fine)
    decision = SendingDecision.objects.get(user=owner)
    assert decision.action == SendingDecision.Action.PAUSED and decision.actor is None
    assert decision.figures["sent"] == 100 and decision.figures["bounced"] == 6
    assert decision.figures["bounce_rate"] == 0.06
    assert "6.0% of the last 100 messages bounced" in User.objects.get(pk=owner.pk).sending_paused_reason


def test_hard_bounce_rows_count_and_soft_ones_do_not():
    owner = UserFactory()
    deliveries = sends(owner, 100)
    for delivery in deliveries[:4]:
        bounce(delivery, Bounce.Kind.SOFT)
    for delivery in deliveries[4:9]:
        bounce(delivery, Bounce.Kind.HARD)
    assert services.review_senders() == []
    bounce(deliveries[9], Bounce.Kind.HARD)
    assert services.review_senders() == [owner.pk]
    assert SendingDecision.objects.get(user=owner).figures["bounced"] == 6


def test_one_complaint_in_a_hundred_passes_the_complaint_threshold():
    owner = UserFactory()
    deliveries = sends(owner, 120)
    bounce(deliveries[0], Bounce.Kind.COMPLAINT)
    assert services.review_senders() == [owner.pk]
    figures = SendingDecision.objects.get(user=owner).figures
    assert (figures["complaints"], figures["bounced"]) == (1, 0)
    assert "spam complaint" in User.objects.get(pk=owner.pk).sending_paused_reason


def test_under_the_minimum_sample_nobody_is_paused():
    owner = UserFactory()
    sends(owner, 3, bounced=1)
    deliveries = sends(owner, 50, bounced=20)
    bounce(deliveries[30], Bounce.Kind.COMPLAINT)
    assert services.review_senders() == []
    assert not paused(owner) and not SendingDecision.objects.exists()


def test_only_the_window_counts():
    owner = UserFactory()
    sends(owner, 100, bounced=50, at=timezone.now() - dt.timedelta(days=40))  # older than SEND_REVIEW_DAYS
    sends(owner, 100, bounced=1)
    assert services.review_senders() == []
    assert limits.sender_figures(owner.pk)["sent"] == 100


def test_the_review_is_idempotent_and_skips_blocked_owners():
    owner, blocked = UserFactory(), UserFactory(is_blocked=True)
    sends(owner, 100, bounced=10)
    sends(blocked, 100, bounced=10)
    assert services.review_senders() == [owner.pk]
    assert services.review_senders() == []
    assert SendingDecision.objects.filter(user=owner).count() == 1
    assert not paused(blocked)


def test_after_a_resume_only_new_sends_count_R_DLV_5():
    boss, owner = make_reviewer(), UserFactory()
    sends(owner, 100, bounced=10)
    services.review_senders()
    services.sending_resume(actor=boss, user=owner, reason="cleaned the list")
    assert services.review_senders() == []  # the bounces before the resume are forgiven
    sends(owner, 100, at=timezone.now(), bounced=2)
    assert services.review_senders() == []
    sends(owner, 20, at=timezone.now(), bounced=10)  # 12 of 120 since the resume
    assert services.review_senders() == [owner.pk]
    actions = SendingDecision.objects.filter(user=owner).order_by("created_at", "pk").values_list("action")
    assert [action for (action,) in actions] == ["paused", "resumed", "paused"]


def test_a_pause_stops_the_engine_for_that_owner(smtp):
    owner = UserFactory()
    sends(owner, 100, bounced=10)
    services.review_senders()
    due_mailing(clients=2, owner=owner)
    assert send_due().sent == 0 and smtp.received == []


# --- the managers ---------------------------------------------------------------------------------------


def make_reviewer(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def gid(user: User) -> str:
    return to_global_id("ManagedUser", user.pk)


NEEDS_REVIEW = """
{ needsReview { user { email sendingPausedAt sendQuotaDaily sentToday } pausedAt reason sent bounced
  complaints bounceRate complaintRate pausedBy { email } } }
"""
RESUME = """
mutation($id: ID!, $reason: String) { resumeSending(id: $id, reason: $reason) {
  user { sendingPausedAt sendingPausedReason } errors { field code } } }
"""
BLOCK = """
mutation($id: ID!, $reason: String!) { blockSender(id: $id, reason: $reason) {
  user { isBlocked blockedReason } errors { field code } } }
"""
QUOTA = """
mutation($id: ID!, $quota: Int, $reason: String) { setSendQuota(id: $id, quota: $quota, reason: $reason) {
  user { sendQuotaDaily sendQuotaOverride } errors { field code } } }
"""


def test_managers_see_paused_senders_with_their_figures(settings):
    settings.SEND_QUOTA_DAILY = 1000
    boss, owner = make_reviewer(), UserFactory(email="spammy@example.com")
    sends(owner, 100, bounced=8)
    services.review_senders()
    [row] = data_of(NEEDS_REVIEW, user=boss)["needsReview"]
    assert row["user"]["email"] == "spammy@example.com" and row["user"]["sendingPausedAt"]
    assert (row["sent"], row["bounced"], row["complaints"]) == (100, 8, 0)
    assert row["bounceRate"] == 0.08 and row["complaintRate"] == 0.0
    assert "bounced" in row["reason"] and row["pausedBy"] is None and row["pausedAt"]


def test_a_manager_resumes_and_the_decision_is_recorded():
    boss, owner = make_reviewer(), UserFactory()
    sends(owner, 100, bounced=8)
    services.review_senders()
    result = data_of(RESUME, {"id": gid(owner), "reason": "list cleaned"}, user=boss)["resumeSending"]
    assert result == {"user": {"sendingPausedAt": None, "sendingPausedReason": ""}, "errors": []}
    decision = SendingDecision.objects.filter(user=owner).first()
    assert (decision.action, decision.actor, decision.reason) == ("resumed", boss, "list cleaned")
    assert data_of(NEEDS_REVIEW, user=boss)["needsReview"] == []
    # Not paused any more: a payload error, and nothing more recorded.
    again = data_of(RESUME, {"id": gid(owner)}, user=boss)["resumeSending"]
    assert again["user"] is None and [e["code"] for e in again["errors"]] == ["invalid"]
    assert SendingDecision.objects.filter(user=owner).count() == 2


def test_a_manager_blocks_a_paused_sender():
    boss, owner = make_reviewer(), UserFactory()
    sends(owner, 100, bounced=8)
    services.review_senders()
    result = data_of(BLOCK, {"id": gid(owner), "reason": "spam list"}, user=boss)["blockSender"]
    assert result == {"user": {"isBlocked": True, "blockedReason": "spam list"}, "errors": []}
    decision = SendingDecision.objects.filter(user=owner).first()
    assert (decision.action, decision.actor, decision.figures["bounced"]) == ("blocked", boss, 8)
    assert data_of(NEEDS_REVIEW, user=boss)["needsReview"] == []
    blank = data_of(BLOCK, {"id": gid(UserFactory()), "reason": "  "}, user=boss)["blockSender"]
    assert [(e["field"], e["code"]) for e in blank["errors"]] == [("reason", "required")]


def test_a_manager_raises_lowers_and_resets_a_quota(settings):
    settings.SEND_QUOTA_DAILY = 1000
    settings.SEND_QUOTA_NEW_ACCOUNT_DAILY = 200
    boss, owner = make_reviewer(), UserFactory()
    result = data_of(QUOTA, {"id": gid(owner), "quota": 5000, "reason": "trusted shop"}, user=boss)
    assert result["setSendQuota"] == {
        "user": {"sendQuotaDaily": 5000, "sendQuotaOverride": 5000},
        "errors": [],
    }
    result = data_of(QUOTA, {"id": gid(owner), "quota": None}, user=boss)
    assert result["setSendQuota"]["user"] == {"sendQuotaDaily": 200, "sendQuotaOverride": None}
    decisions = list(SendingDecision.objects.filter(user=owner).order_by("created_at", "pk"))
    assert [(d.action, d.actor, d.figures) for d in decisions] == [
        ("quota", boss, {"from": None, "to": 5000}),
        ("quota", boss, {"from": 5000, "to": None}),
    ]
    assert decisions[0].reason == "trusted shop"
    bad = data_of(QUOTA, {"id": gid(owner), "quota": -1}, user=boss)["setSendQuota"]
    assert bad["user"] is None and [(e["field"], e["code"]) for e in bad["errors"]] == [("quota", "invalid")]
    assert SendingDecision.objects.filter(user=owner).count() == 2


@pytest.mark.parametrize("who", ["owner", "mailings-only manager"])
def test_anyone_but_managers_is_refused_the_review(who):
    actor = UserFactory() if who == "owner" else make_manager()
    target = UserFactory()
    sends(target, 100, bounced=8)
    services.review_senders()
    _status, body = gql(NEEDS_REVIEW, user=actor)
    assert error_codes(body) == ["FORBIDDEN"]
    for query, variables, field in (
        (RESUME, {"id": gid(target)}, "resumeSending"),
        (BLOCK, {"id": gid(target), "reason": "x"}, "blockSender"),
        (QUOTA, {"id": gid(target), "quota": 100000}, "setSendQuota"),
    ):
        _status, body = gql(query, variables, user=actor)
        assert error_codes(body) == ["FORBIDDEN"] and body["data"] == {field: None}
    target = User.objects.get(pk=target.pk)
    assert target.sending_paused_at and not target.is_blocked and target.send_quota_daily is None
    assert SendingDecision.objects.filter(user=target).count() == 1


def test_an_owner_cannot_lift_their_own_pause_or_raise_their_own_quota():
    owner = UserFactory()
    sends(owner, 100, bounced=8)
    services.review_senders()
    _status, body = gql(RESUME, {"id": gid(owner)}, user=owner)
    assert error_codes(body) == ["FORBIDDEN"]
    _status, body = gql(QUOTA, {"id": gid(owner), "quota": 0}, user=owner)
    assert error_codes(body) == ["FORBIDDEN"]
    assert paused(owner)


def test_a_manager_cannot_review_themselves_or_a_superuser():
    boss = make_reviewer()
    for target in (boss, UserFactory(is_superuser=True)):
        _status, body = gql(QUOTA, {"id": gid(target), "quota": 10}, user=boss)
        assert error_codes(body) == ["FORBIDDEN"]
    _status, body = gql(QUOTA, {"id": to_global_id("ManagedUser", 999999), "quota": 10}, user=boss)
    assert error_codes(body) == ["NOT_FOUND"]


def test_the_manager_dashboard_offers_the_review(client):
    boss = make_reviewer()
    client.force_login(boss)
    html = client.get(reverse("web:manager")).content.decode()
    assert 'data-section="review"' in html
    for name in ("managerNeedsReview", "managerResumeSending", "managerBlockSender", "managerSetSendQuota"):
        assert name in OPERATIONS and name in html
    client.force_login(UserFactory())
    assert client.get(reverse("web:manager")).status_code == 403
