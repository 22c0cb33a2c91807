"""The migrations for big lists: the client search's trigram indexes (PostgreSQL only; SQLite keeps its
scan), and totals filled for the occurrences that finished before totals existed (R-DATA-4)."""

import datetime as dt
import importlib

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from backend.mailings import selectors
from backend.mailings.filters import ClientFilter
from backend.mailings.models import Client
from tests.factories import ClientFactory, UserFactory

BEFORE_TOTALS = ("mailings", "0007_client_search_index")
search_index = importlib.import_module("backend.mailings.migrations.0007_client_search_index")


def trigram_indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "mailings_client")
    return {name for name in constraints if name.endswith("_trgm")}


@pytest.mark.django_db
def test_the_search_indexes_exist_on_postgresql_only():
    expected = set(search_index.INDEXES) if connection.vendor == "postgresql" else set()
    assert trigram_indexes() == expected


@pytest.mark.django_db
def test_the_search_index_migration_does_nothing_on_sqlite():
    class Editor:
        class connection:
            vendor = "sqlite"

        executed: list[str] = []

        def execute(self, sql, params=None):
            self.executed.append(sql)

    editor = Editor()
    search_index.create(None, editor)
    search_index.drop(None, editor)
    assert editor.executed == []


@pytest.mark.django_db
def test_the_client_search_uses_the_trigram_index_on_postgresql(postgresql_only):
    owner = UserFactory()
    ClientFactory.create_batch(50, owner=owner)
    ClientFactory(owner=owner, email="needle.haystack@example.org", full_name="Ann Needle")
    queryset = selectors.client_list(owner, {"search": "needle"}).qs
    assert [client.email for client in queryset] == ["needle.haystack@example.org"]
    # The search's own condition (what SearchFilter writes, icontains on both fields), without the owner's
    # and the order's indexes to choose from: a few rows here, so the planner is told not to scan the table.
    searched = ClientFilter({"search": "needle"}, queryset=Client.objects.all()).qs.order_by()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = searched.explain()
    assert "mailings_client_email_trgm" in plan and "mailings_client_name_trgm" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_finished_occurrences_get_their_totals_from_their_deliveries():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE_TOTALS])
    apps = executor.loader.project_state([BEFORE_TOTALS]).apps
    Message = apps.get_model("mailings", "Message")
    Mailing = apps.get_model("mailings", "Mailing")
    Occurrence = apps.get_model("mailings", "Occurrence")
    Delivery = apps.get_model("mailings", "Delivery")
    DeliveryAttempt = apps.get_model("mailings", "DeliveryAttempt")
    try:
        now = timezone.now()
        owner_id = UserFactory().pk  # the accounts app is not migrated back
        message = Message.objects.create(owner_id=owner_id, subject="Old", body="Old news")
        mailing = Mailing.objects.create(
            owner_id=owner_id, message=message, start_at=now, end_at=now + dt.timedelta(days=1)
        )
        finished = Occurrence.objects.create(mailing=mailing, scheduled_for=now, finished_at=now)
        running = Occurrence.objects.create(mailing=mailing, scheduled_for=now + dt.timedelta(hours=1))
        statuses = ["sent", "sent", "failed", "skipped"]
        for n, status in enumerate(statuses):
            delivery = Delivery.objects.create(
                mailing=mailing,
                occurrence=finished,
                email=f"r{n}@example.org",
                status=status,
                last_attempt_at=now + dt.timedelta(minutes=n),
            )
            DeliveryAttempt.objects.create(
                delivery=delivery, attempted_at=now + dt.timedelta(minutes=n), outcome="sent"
            )
        Delivery.objects.create(mailing=mailing, occurrence=running, email="p@example.org", status="pending")
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        from backend.mailings.models import Occurrence as Current

        done = Current.objects.get(pk=finished.pk)
        assert (done.deliveries_total, done.sent_total, done.failed_total, done.skipped_total) == (4, 2, 1, 1)
        assert done.first_attempted_at == now and done.last_attempted_at == now + dt.timedelta(minutes=3)
        still = Current.objects.get(pk=running.pk)
        assert still.sent_total is None and still.deliveries_total is None
    finally:
        call_command("migrate", verbosity=0)
