"""Pause and resume on the mailing page, and names in the owner's lists (R-OWN-1, R-OWN-2)."""

import pytest
from django.utils import timezone

from backend.mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_the_owner_pauses_and_resumes_from_the_mailing_page_R_OWN_1(client, owner):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    response = client.post(f"/mailings/{mailing.pk}/pause/", follow=True)
    assert Mailing.objects.get(pk=mailing.pk).paused_at is not None
    html = response.content.decode()
    assert 'data-testid="paused"' in html and 'data-testid="resume"' in html
    assert 'data-testid="send-now"' not in html
    assert "None while the mailing is paused." in html
    client.post(f"/mailings/{mailing.pk}/resume/")
    assert Mailing.objects.get(pk=mailing.pk).paused_at is None


def test_resuming_a_disabled_mailing_says_the_manager_holds_it_R_OWN_1(client, owner):
    mailing = MailingFactory(owner=owner, is_active=False, paused_at=timezone.now())
    response = client.post(f"/mailings/{mailing.pk}/resume/", follow=True)
    assert "a manager disabled this mailing" in response.content.decode()
    mailing.refresh_from_db()
    assert mailing.paused_at is None and not mailing.is_active


def test_pause_is_post_only_and_another_owners_mailing_is_not_found_R_OWN_1(client, owner):
    mine = MailingFactory(owner=owner)
    assert client.get(f"/mailings/{mine.pk}/pause/").status_code == 405
    theirs = MailingFactory()
    assert client.post(f"/mailings/{theirs.pk}/pause/").status_code == 404
    assert client.post(f"/mailings/{theirs.pk}/resume/").status_code == 404
    assert Mailing.objects.get(pk=theirs.pk).paused_at is None
    assert Mailing.objects.get(pk=mine.pk).paused_at is None


def test_a_manager_has_no_pause_of_their_own_for_others(client):
    mailing = MailingFactory()
    client.force_login(make_manager())
    assert_refused_page(client.post(f"/mailings/{mailing.pk}/pause/"))
    assert Mailing.objects.get(pk=mailing.pk).paused_at is None


def test_five_mailings_of_one_message_are_told_apart_by_name_R_OWN_2(client, owner):
    message = MessageFactory(owner=owner, subject="Weekly news")
    for name in ("Monday wave", "Tuesday wave"):
        MailingFactory(owner=owner, message=message, name=name)
    unnamed = MailingFactory(owner=owner, message=message)
    assert unnamed.name == "Weekly news"
    html = client.get("/mailings/").content.decode()
    assert "Monday wave" in html and "Tuesday wave" in html
    assert "Tuesday wave" in client.get("/mailings/?q=tuesday").content.decode()
    assert "Monday wave" not in client.get("/mailings/?q=tuesday").content.decode()
