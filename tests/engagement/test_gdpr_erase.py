"""Erasing a person at their request (R-ENG-4): the service deletes every row that names them and keeps a
hash of the address; imports skip that address with the reason, the client form refuses it unless the owner
says the person asked to come back; finished occurrences' totals stay; another owner's data stays."""

import csv
import datetime as dt
import hashlib
import logging

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.mailings import selectors, services
from backend.mailings.csv_io import ClientRow
from backend.mailings.errors import ErrorCode
from backend.mailings.models import (
    Bounce,
    Client,
    ClientImport,
    ClientTag,
    Consent,
    Delivery,
    DeliveryAttempt,
    EngagementEvent,
    Mailing,
    Occurrence,
    Suppression,
    Unsubscription,
)
from backend.mailings.services import FormInvalid, ImportResult
from backend.mailings.services import imports as imports_module
from tests.engagement import gdpr_world
from tests.engagement.gdpr_world import ADDRESS, NEEDLE
from tests.factories import ClientFactory, MailingFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

TOTALS = (
    "deliveries_total",
    "sent_total",
    "failed_total",
    "skipped_total",
    "first_attempted_at",
    "last_attempted_at",
)


@pytest.fixture
def world():
    return gdpr_world.build()


def totals(occurrence: Occurrence) -> tuple:
    occurrence.refresh_from_db()
    return tuple(getattr(occurrence, name) for name in TOTALS)


def rows_naming_the_address() -> dict[str, set[int]]:
    """Every row of every mailings table with a text column holding the address in any letter case."""
    found: dict[str, set[int]] = {}
    for model in apps.get_app_config("mailings").get_models():
        text = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.EmailField | models.JSONField)
        ]
        for name in text:
            field = model._meta.get_field(name)
            if isinstance(field, models.JSONField):
                pks = {
                    pk for pk, value in model.objects.values_list("pk", name) if NEEDLE in str(value).lower()
                }
            else:
                pks = set(model.objects.filter(**{f"{name}__icontains": NEEDLE}).values_list("pk", flat=True))
            if pks:
                found.setdefault(model.__name__, set()).update(pks)
        binary = [f.name for f in model._meta.concrete_fields if isinstance(f, models.BinaryField)]
        for name in binary:
            pks = {
                pk
                for pk, value in model.objects.values_list("pk", name)
                if NEEDLE.encode() in bytes(value or b"").lower()
            }
            if pks:
                found.setdefault(model.__name__, set()).update(pks)
    return found


def test_erase_deletes_every_row_naming_the_person_and_keeps_one_hash_R_ENG_4(world, caplog):
    before = totals(world.finished)
    theirs = {
        "Delivery": {world.theirs.pk},
        "Bounce": set(Bounce.objects.filter(owner=world.stranger).values_list("pk", flat=True)),
        "Unsubscription": set(
            Unsubscription.objects.filter(owner=world.stranger).values_list("pk", flat=True)
        ),
    }
    assert set(rows_naming_the_address()) >= {"Client", "Delivery", "Bounce", "Consent", "Unsubscription"}
    caplog.set_level(logging.INFO, logger="backend.mailings.services.gdpr")

    erasure = services.client_erase(actor=world.owner, client=world.client)

    assert (erasure.deliveries, erasure.attempts, erasure.events, erasure.bounces) == (3, 2, 2, 3)
    assert (erasure.consents, erasure.unsubscriptions, erasure.import_rows) == (1, 1, 1)
    assert not Client.objects.filter(pk=world.client.pk).exists()
    assert not ClientTag.objects.filter(client_id=world.client.pk).exists()
    assert not Consent.objects.filter(owner=world.owner).exists()
    assert set(Delivery.objects.values_list("pk", flat=True)) == {world.kept.pk, world.theirs.pk}
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == {world.kept.pk}
    assert set(EngagementEvent.objects.values_list("delivery_id", flat=True)) == {world.kept.pk}
    assert not Bounce.objects.filter(owner=world.owner).exists()
    assert not Unsubscription.objects.filter(owner=world.owner).exists()
    assert list(world.mailing.clients.all()) == [world.bystander]
    assert [row[1] for row in ClientImport.objects.get().problems] == ["bob@example.org"]
    # Exactly one trace: the hash of the stripped, lower-cased address.
    assert list(Suppression.objects.values_list("owner_id", "email_hash")) == [
        (world.owner.pk, hashlib.sha256(NEEDLE.encode()).hexdigest())
    ]
    assert selectors.email_hash(f"  {ADDRESS.upper()} ") == hashlib.sha256(NEEDLE.encode()).hexdigest()
    # Nothing of this owner's holds the address any more; the other owner's data is theirs.
    assert rows_naming_the_address() == theirs
    # The finished occurrence's frozen counts do not change; the bystander's rows are untouched.
    assert totals(world.finished) == before
    assert before[:2] == (3, 2)
    assert Client.objects.filter(pk=world.bystander.pk).exists()
    # The audit line names ids and counts, never the address.
    lines = [record.getMessage() for record in caplog.records if record.name.endswith("services.gdpr")]
    assert len(lines) == 1 and f"client {world.client.pk} " in lines[0]
    assert NEEDLE not in lines[0].lower()


def erase_counting_statements(deliveries: int) -> int:
    """Erase a fresh person with `deliveries` deliveries (each with an attempt and an open)."""
    owner = UserFactory()
    client = ClientFactory(owner=owner, email=ADDRESS)
    mailing = MailingFactory(owner=owner)
    start = timezone.now()
    occurrences = Occurrence.objects.bulk_create(
        [Occurrence(mailing=mailing, scheduled_for=start - dt.timedelta(days=n)) for n in range(deliveries)]
    )
    rows = Delivery.objects.bulk_create(
        [Delivery(mailing=mailing, occurrence=o, client=client, email=ADDRESS) for o in occurrences]
    )
    DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(delivery=d, attempted_at=start, outcome="sent") for d in rows]
    )
    EngagementEvent.objects.bulk_create(
        [
            EngagementEvent(kind="open", mailing=mailing, occurrence_id=d.occurrence_id, delivery=d, at=start)
            for d in rows
        ]
    )
    with CaptureQueriesContext(connection) as captured:
        erasure = services.client_erase(actor=owner, client=client)
    assert (erasure.deliveries, erasure.attempts, erasure.events) == (deliveries,) * 3
    assert not Delivery.objects.filter(mailing__owner=owner).exists()
    return len(captured.captured_queries)


def test_erase_costs_the_same_statements_whatever_the_number_of_deliveries_R_ENG_4():
    """On PostgreSQL and SQLite alike: a statement or a few per table, none per row."""
    assert erase_counting_statements(1) == erase_counting_statements(300) < 40


def test_erase_is_refused_to_another_owner_and_a_manager_and_changes_nothing_R_ENG_4(world):
    for actor in (world.stranger, make_manager()):
        with pytest.raises(PermissionDenied):
            services.client_erase(actor=actor, client=world.client)
    assert Client.objects.filter(pk=world.client.pk).exists()
    assert Delivery.objects.count() == 5
    assert not Suppression.objects.exists()


def test_a_superuser_erases_through_the_service_R_ENG_4(world):
    admin = UserFactory(is_superuser=True, is_staff=True)
    services.client_erase(actor=admin, client=world.client)
    assert Suppression.objects.filter(owner=world.owner).count() == 1
    assert not Suppression.objects.filter(owner=admin).exists()


# --- after the erasure: imports and hand-adding -------------------------------------------------------


@pytest.fixture
def erased():
    owner = UserFactory()
    client = ClientFactory(owner=owner, email=ADDRESS)
    services.client_erase(actor=owner, client=client)
    return owner


def test_an_import_skips_an_erased_address_with_the_reason_R_ENG_4(erased):
    report = services.clients_import(
        actor=erased,
        rows=[ClientRow(2, f" {NEEDLE.upper()} ", "Ann"), ClientRow(3, "new@example.org", "New")],
    )
    assert (report.added, report.skipped) == (1, 1)
    row = report.rows[0]
    assert (row.result, row.code) == (ImportResult.SKIPPED, ErrorCode.ERASED)
    assert "erased at the person's request" in row.reason.lower()
    assert not Client.objects.filter(owner=erased, email__iexact=NEEDLE).exists()
    # Another owner never had them erased: their import adds the address.
    other = UserFactory()
    assert services.clients_import(actor=other, rows=[ClientRow(2, ADDRESS, "Ann")]).added == 1


def test_a_background_import_skips_an_erased_address_with_the_reason_R_ENG_4(
    erased, settings, tmp_path, monkeypatch
):
    settings.MAILER_IMPORT_DIR = tmp_path / "imports"
    monkeypatch.setattr(imports_module, "MAX_IMPORT_BYTES", 50)
    content = (
        "email;full name\n" + "".join(f"c{n}@example.org;C {n}\n" for n in range(5)) + f"{ADDRESS};Ann\n"
    )
    job = services.clients_import_upload(
        actor=erased, upload=SimpleUploadedFile("list.csv", content.encode(), "text/csv")
    )
    assert isinstance(job, ClientImport)
    services.client_imports_run()
    job.refresh_from_db()
    assert (job.status, job.added, job.skipped, job.errors) == ("done", 5, 1, 0)
    assert [(p[1].lower(), p[4]) for p in job.problems] == [(NEEDLE, "erased")]
    report = list(csv.reader(selectors.client_import_report(job).open(encoding="utf-8")))
    assert (report[-1][1].lower(), report[-1][2], report[-1][4]) == (NEEDLE, "skipped", "erased")
    assert "erased at the person's request" in report[-1][3].lower()
    assert not Client.objects.filter(owner=erased, email__iexact=NEEDLE).exists()


def test_adding_an_erased_address_by_hand_is_refused_unless_the_person_asked_R_ENG_4(erased):
    with pytest.raises(FormInvalid) as refused:
        services.client_create(actor=erased, data={"email": NEEDLE, "full_name": "Ann"})
    assert [error.code for error in refused.value.form.errors.as_data()["email"]] == [ErrorCode.ERASED]
    bob = ClientFactory(owner=erased, email="bob@example.org")
    with pytest.raises(FormInvalid):
        services.client_update(actor=erased, client=bob, data={"email": ADDRESS, "full_name": "Bob"})
    assert Client.objects.filter(owner=erased).count() == 1
    assert Suppression.objects.filter(owner=erased).count() == 1

    client = services.client_create(actor=erased, data={"email": ADDRESS, "full_name": "Ann", "readd": "on"})
    assert client.email == "Ann.Person@example.org"
    assert not Suppression.objects.filter(owner=erased).exists()
    # A person back in the list is a client like any other: an import updates them.
    report = services.clients_import(actor=erased, rows=[ClientRow(2, NEEDLE, "Ann P.")])
    assert report.updated == 1


def test_erasing_every_client_of_a_mailing_leaves_mailings_intact_R_ENG_4(world):
    services.client_erase(actor=world.owner, client=world.client)
    assert Mailing.objects.filter(pk=world.mailing.pk).exists()
    assert Occurrence.objects.filter(pk=world.running.pk, finished_at__isnull=True).exists()
