"""Pausing and resuming one's own mailing, mailing names, and one-off mailings without an end through the API
(R-OWN-1, R-OWN-2)."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings.models import Mailing
from tests.api.helpers import data_of, error_codes, gql
from tests.api.test_mailings import gid, iso, mailing_input
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

PAUSE = """mutation($id: ID!) {
  pauseMailing(id: $id) { mailing { id name pausedAt isActive } errors { field code } }
}"""
RESUME = """mutation($id: ID!) {
  resumeMailing(id: $id) { mailing { id pausedAt isActive } errors { field code } }
}"""
CREATE = """mutation($input: MailingInput!) {
  createMailing(input: $input) { mailing { id name endAt startAt periodicity } errors { field code } }
}"""
SEND_NOW = """mutation($id: ID!) { sendMailingNow(id: $id) { queued errors { field code } } }"""


@pytest.fixture
def owner():
    return UserFactory(time_zone="UTC")


@pytest.fixture
def mailing(owner):
    return MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])


def test_the_owner_pauses_and_resumes_R_OWN_1(owner, mailing):
    paused = data_of(PAUSE, {"id": gid(mailing)}, user=owner)["pauseMailing"]
    assert paused["errors"] == [] and paused["mailing"]["pausedAt"]
    refused = data_of(SEND_NOW, {"id": gid(mailing)}, user=owner)["sendMailingNow"]
    assert [error["code"] for error in refused["errors"]] == ["mailing_paused"]
    resumed = data_of(RESUME, {"id": gid(mailing)}, user=owner)["resumeMailing"]
    assert resumed["errors"] == [] and resumed["mailing"]["pausedAt"] is None


@pytest.mark.parametrize("who", ["stranger", "manager"])
@pytest.mark.parametrize("operation", [PAUSE, RESUME])
def test_another_owners_or_a_managers_pause_finds_nothing_and_changes_nothing_R_OWN_1(
    owner, mailing, who, operation
):
    if operation is RESUME:
        Mailing.objects.filter(pk=mailing.pk).update(paused_at=timezone.now())
    before = Mailing.objects.get(pk=mailing.pk).paused_at
    actor = UserFactory() if who == "stranger" else make_manager()
    _status, body = gql(operation, {"id": gid(mailing)}, user=actor)
    assert body["data"][next(iter(body["data"]))] is None
    # A stranger cannot tell the mailing exists; a manager sees it but may not act for its owner.
    assert error_codes(body) == (["NOT_FOUND"] if who == "stranger" else ["FORBIDDEN"])
    assert Mailing.objects.get(pk=mailing.pk).paused_at == before


def test_anonymous_cannot_pause(mailing):
    _status, body = gql(PAUSE, {"id": gid(mailing)})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert Mailing.objects.get(pk=mailing.pk).paused_at is None


def test_a_name_is_kept_and_an_empty_one_is_the_subject_R_OWN_2(owner):
    named = data_of(CREATE, {"input": mailing_input(owner, name="Autumn wave")}, user=owner)["createMailing"]
    assert named["errors"] == [] and named["mailing"]["name"] == "Autumn wave"
    message = MessageFactory(owner=owner, subject="Harvest news")
    unnamed = data_of(CREATE, {"input": mailing_input(owner, messageId=gid(message))}, user=owner)
    assert unnamed["createMailing"]["mailing"]["name"] == "Harvest news"


def test_a_one_off_needs_no_end_and_a_weekly_one_does_R_OWN_2(owner):
    start = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    values = mailing_input(owner, startAt=iso(start), periodicity="ONCE")
    del values["endAt"]
    once = data_of(CREATE, {"input": values}, user=owner)["createMailing"]
    assert once["errors"] == []
    assert dt.datetime.fromisoformat(once["mailing"]["endAt"]) == start + dt.timedelta(days=1)
    weekly = data_of(CREATE, {"input": {**values, "periodicity": "WEEKLY"}}, user=owner)["createMailing"]
    assert weekly["mailing"] is None
    assert [(error["field"], error["code"]) for error in weekly["errors"]] == [("endAt", "required")]
