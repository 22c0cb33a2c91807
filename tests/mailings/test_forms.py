"""The forms are the single validation: owner-scoped choices, per-field errors."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings.forms import ClientForm, MailingForm, MessageForm
from tests.factories import ClientFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def local_input(moment: dt.datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def mailing_data(owner, message=None, clients=None, **overrides):
    start = timezone.now() + dt.timedelta(days=1)
    data = {
        "message": (message or MessageFactory(owner=owner)).pk,
        "clients": [c.pk for c in (clients or [ClientFactory(owner=owner)])],
        "start_at": local_input(start, owner.time_zone),
        "end_at": local_input(start + dt.timedelta(days=7), owner.time_zone),
        "periodicity": "daily",
    }
    data.update(overrides)
    return data


def test_valid_mailing_form():
    owner = UserFactory()
    form = MailingForm(data=mailing_data(owner), owner=owner)
    assert form.is_valid(), form.errors


def test_refuses_another_owners_message_and_clients():
    """R-AUTH-4: another owner's objects are not valid choices, whatever the id."""
    owner, stranger = UserFactory(), UserFactory()
    data = mailing_data(
        owner, message=MessageFactory(owner=stranger), clients=[ClientFactory(owner=stranger)]
    )
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert form.errors.as_data()["message"][0].code == "invalid_choice"
    assert form.errors.as_data()["clients"][0].code == "invalid_choice"


def test_mixing_own_and_foreign_clients_is_refused():
    owner, stranger = UserFactory(), UserFactory()
    data = mailing_data(owner, clients=[ClientFactory(owner=owner), ClientFactory(owner=stranger)])
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert set(form.errors) == {"clients"}


def test_end_before_start_and_end_in_the_past_are_field_errors():
    owner = UserFactory()
    start = timezone.now() + dt.timedelta(days=1)
    data = mailing_data(owner, end_at=local_input(start - dt.timedelta(hours=1), owner.time_zone))
    data["start_at"] = local_input(start, owner.time_zone)
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert form.errors.as_data()["end_at"][0].code == "end_before_start"

    past = timezone.now() - dt.timedelta(days=3)
    data = mailing_data(
        owner,
        start_at=local_input(past, owner.time_zone),
        end_at=local_input(past + dt.timedelta(days=1), owner.time_zone),
    )
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert form.errors.as_data()["end_at"][0].code == "end_in_past"


def test_missing_fields_and_bad_periodicity_are_reported_per_field():
    owner = UserFactory()
    form = MailingForm(data={"periodicity": "hourly"}, owner=owner)
    assert not form.is_valid()
    # Whether an end is needed depends on the periodicity (R-OWN-2): with none valid, only that is said.
    assert set(form.errors) == {"message", "clients", "start_at", "periodicity"}


def test_a_repeating_mailing_needs_an_end_R_OWN_2():
    owner = UserFactory()
    data = mailing_data(owner, start_at="2030-01-10T09:00", end_at="", periodicity="daily")
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert form.errors.as_data()["end_at"][0].code == "required"


def test_a_one_off_mailing_needs_only_its_send_time_R_OWN_2():
    owner = UserFactory(time_zone="UTC")
    data = mailing_data(owner, start_at="2030-01-10T09:00", end_at="", periodicity="once")
    form = MailingForm(data=data, owner=owner)
    assert form.is_valid(), form.errors
    mailing = form.save()
    assert mailing.end_at - mailing.start_at == dt.timedelta(days=1)
    assert mailing.upcoming(after=mailing.start_at - dt.timedelta(seconds=1)) == [mailing.start_at]


def test_a_one_off_starting_in_the_past_still_starts_R_OWN_2():
    owner = UserFactory(time_zone="UTC")
    start = (timezone.now() - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    form = MailingForm(data=mailing_data(owner, start_at=start, end_at="", periodicity="once"), owner=owner)
    assert form.is_valid(), form.errors
    assert form.save().end_at > timezone.now()


def test_a_mailing_left_unnamed_is_named_after_its_subject_R_OWN_2():
    owner = UserFactory()
    data = mailing_data(owner, start_at="2030-01-10T09:00", end_at="2030-02-10T09:00")
    mailing = MailingForm(data=data, owner=owner)
    assert mailing.is_valid(), mailing.errors
    saved = mailing.save()
    assert saved.name == saved.message.subject
    data["name"] = "  Spring sale, second wave "
    named = MailingForm(data=data, owner=owner)
    assert named.is_valid(), named.errors
    assert named.save().name == "Spring sale, second wave"


def test_times_are_read_in_the_owners_time_zone():
    owner = UserFactory(time_zone="Asia/Tokyo")
    data = mailing_data(owner, start_at="2030-01-10T09:00", end_at="2030-02-10T09:00")
    form = MailingForm(data=data, owner=owner)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["start_at"] == dt.datetime(2030, 1, 10, 0, 0, tzinfo=dt.UTC)


def test_client_form_refuses_a_duplicate_email_in_any_case_but_allows_other_owners():
    owner, other = UserFactory(), UserFactory()
    ClientFactory(owner=owner, email="Ann@example.org")
    form = ClientForm(data={"email": "ANN@example.org", "full_name": "Ann"}, owner=owner)
    assert not form.is_valid()
    assert form.errors.as_data()["email"][0].code == "duplicate_email"
    assert ClientForm(data={"email": "ann@example.org", "full_name": "Ann"}, owner=other).is_valid()


def test_client_form_allows_keeping_its_own_email_on_edit():
    client = ClientFactory(email="keep@example.org")
    form = ClientForm(
        data={"email": "keep@example.org", "full_name": "New name"}, instance=client, owner=client.owner
    )
    assert form.is_valid(), form.errors


def test_client_form_refuses_a_bad_email():
    form = ClientForm(data={"email": "not-an-email", "full_name": "X"}, owner=UserFactory())
    assert not form.is_valid()
    assert "email" in form.errors


def test_message_form_requires_subject_and_body():
    form = MessageForm(data={"subject": "", "body": ""}, owner=UserFactory())
    assert not form.is_valid()
    assert set(form.errors) == {"subject", "body"}
