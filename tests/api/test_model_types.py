"""The base of the model-backed GraphQL types: a row worked out in another row's query (`partial_row`)
behaves as a row with deferred columns, and a type recognises its own rows."""

import pytest
from django.db.models.signals import post_init
from django.utils import timezone

from backend.api.core.types import partial_row
from backend.api.mailings.types import MailingType
from backend.api.reports.types import OccurrenceType
from backend.mailings.models import Client, Occurrence
from tests.factories import MailingFactory

pytestmark = pytest.mark.django_db


def test_a_partial_row_holds_what_it_was_given_and_loads_the_rest_on_demand(django_assert_num_queries):
    mailing = MailingFactory()
    stored = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    row = partial_row(Occurrence, "default", {"id": stored.pk, "mailing_id": mailing.pk, "sent_count": 4})
    with django_assert_num_queries(0):
        assert (row.pk, row.mailing_id, row.sent_count) == (stored.pk, mailing.pk, 4)
        assert not row._state.adding and row._state.db == "default"
        assert row.get_deferred_fields() >= {"scheduled_for", "finished_at"}
    with django_assert_num_queries(1):
        assert row.scheduled_for == stored.scheduled_for


def test_a_model_with_init_listeners_is_made_the_usual_way():
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Client)
    try:
        row = partial_row(Client, "default", {"id": 7, "owner_id": 3, "extra": 1})
    finally:
        post_init.disconnect(listener, sender=Client)
    assert seen == [row] and (row.pk, row.owner_id, row.extra) == (7, 3, 1)
    assert "email" in row.get_deferred_fields()


def test_a_type_recognises_its_rows_and_no_one_elses():
    mailing = MailingFactory()
    occurrence = Occurrence(mailing=mailing, scheduled_for=timezone.now())
    assert MailingType.is_type_of(mailing, None) and OccurrenceType.is_type_of(occurrence, None)
    assert not MailingType.is_type_of(occurrence, None) and not OccurrenceType.is_type_of(mailing, None)
