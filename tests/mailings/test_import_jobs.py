"""Tags in CSV import and export (R-AUD-2) and large files imported in the background by the scheduler
(R-AUD-3): chunked, resumable after a crash, refused twice at once, owner-only."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from backend.mailings import csv_io, selectors, services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, ClientImport, ClientTag, Tag, Unsubscription
from backend.mailings.services import ImportResult
from backend.mailings.services import imports as imports_module
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path, monkeypatch):
    """Uploads into a folder of the test's own; any file over 200 bytes goes to the background."""
    settings.MAILER_IMPORT_DIR = tmp_path / "imports"
    monkeypatch.setattr(imports_module, "MAX_IMPORT_BYTES", 200)
    return settings.MAILER_IMPORT_DIR


def tags_of(owner, email: str) -> list[str]:
    client = Client.objects.get(owner=owner, email=email)
    return sorted(client.tags.values_list("name", flat=True))


def upload(owner, content: bytes, name: str = "clients.csv"):
    return services.clients_import_upload(actor=owner, upload=SimpleUploadedFile(name, content, "text/csv"))


# --- the tags column ------------------------------------------------------------------------------------


def test_a_tags_column_creates_tags_and_matches_existing_ones_in_any_letter_case(owner, monkeypatch):
    monkeypatch.setattr(imports_module, "MAX_IMPORT_BYTES", csv_io.MAX_IMPORT_BYTES)
    vip = Tag.objects.create(owner=owner, name="VIP")
    Tag.objects.create(owner=UserFactory(), name="news")  # another owner's tag is not reused
    data = b'a@example.org,Ann,,"vip, news"\nb@example.org,Bob,,News\nc@example.org,Cy\n'
    report = upload(owner, data)
    assert isinstance(report, services.ImportReport)
    assert report.added == 3
    assert tags_of(owner, "a@example.org") == ["VIP", "news"]
    assert tags_of(owner, "b@example.org") == ["news"]
    assert tags_of(owner, "c@example.org") == []
    assert Tag.objects.filter(owner=owner).count() == 2
    assert Tag.objects.get(owner=owner, name="news").pk != vip.pk
    # Tags are added, never removed; a client gaining one counts as updated, one with it already unchanged.
    report = services.clients_import_csv(
        actor=owner, data=b"a@example.org,Ann,,vip\nb@example.org,Bob,,VIP\n"
    )
    assert [row.result for row in report.rows] == [ImportResult.SKIPPED, ImportResult.UPDATED]
    assert tags_of(owner, "a@example.org") == ["VIP", "news"]
    assert tags_of(owner, "b@example.org") == ["VIP", "news"]


def test_a_header_names_the_tags_column_wherever_it_is():
    rows = csv_io.parse_clients_csv(b"email;tags;full name\na@example.org;x, y ,X;Ann\n")
    assert rows[0].tags == ("x", "y")
    # An old export (subscribed, created, no tags column) reads no tags.
    old = b"email,full name,comment,subscribed,created (UTC)\na@example.org,Ann,,yes,2025-01-01\n"
    assert csv_io.parse_clients_csv(old)[0].tags == ()


def test_a_tag_name_too_long_skips_the_row_with_the_reason(owner):
    report = services.clients_import_csv(actor=owner, data=b'a@example.org,Ann,,"' + b"t" * 101 + b'"\n')
    assert report.rows[0].result == ImportResult.SKIPPED
    assert report.rows[0].code == "invalid"
    assert "tags" in report.rows[0].reason
    assert not Client.objects.filter(owner=owner).exists()


def test_tags_round_trip_through_export_and_import(owner):
    ann = ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    for name in ("b-side", "=formula", "Alpha"):
        tag = Tag.objects.create(owner=owner, name=name)
        ClientTag.objects.create(client=ann, tag=tag)
    exported = "".join(csv_io.clients_csv(Client.objects.filter(owner=owner).order_by("email"), dt.UTC))
    rows = list(csv.reader(io.StringIO(exported[1:], newline="")))
    assert rows[0][-1] == "tags"
    assert rows[1][-1] == "'=formula, Alpha, b-side"
    assert rows[2][-1] == ""
    other = UserFactory()
    report = services.clients_import_csv(actor=other, data=exported.encode())
    assert report.added == 2
    assert tags_of(other, "ann@example.org") == ["=formula", "Alpha", "b-side"]
    # Into the same list it changes nothing.
    report = services.clients_import_csv(actor=owner, data=exported.encode())
    assert {row.code for row in report.rows} == {ErrorCode.UNCHANGED}


def test_export_reads_tags_once_per_chunk(owner, django_assert_max_num_queries):
    for n in range(30):
        client = ClientFactory(owner=owner, email=f"c{n}@example.org")
        ClientTag.objects.create(
            client=client, tag=Tag.objects.get_or_create(owner=owner, name=f"t{n % 3}")[0]
        )
    with django_assert_max_num_queries(3):
        lines = list(csv_io.clients_csv(Client.objects.filter(owner=owner), dt.UTC))
    assert len(lines) == 31


# --- background imports ---------------------------------------------------------------------------------


def big_file(count: int, *, start: int = 0) -> bytes:
    lines = ["email;full name;comment;tags"]
    lines += [
        f"c{n}@example.org;Client {n};note;{'even' if n % 2 == 0 else 'odd, all'}"
        for n in range(start, count)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_large_file_is_stored_and_imported_by_the_job_in_chunks(owner, import_dir):
    ClientFactory(owner=owner, email="c1@example.org", full_name="Old")
    Unsubscription.objects.create(owner=owner, email="c2@example.org")
    data = big_file(20_000) + b"c3@example.org;Again;;\nnot-an-address;X;;\n;;;\nc20001@example.org;;;\n"
    job = upload(owner, data, "list.csv")
    assert isinstance(job, ClientImport)
    assert (job.status, job.file_name, job.size) == (ClientImport.Status.QUEUED, "list.csv", len(data))
    assert (import_dir / job.path).read_bytes() == data
    assert not Client.objects.filter(owner=owner, email="c0@example.org").exists()  # nothing at once

    assert services.client_imports_run() == 5  # 20,003 rows: chunks of 5,000
    job.refresh_from_db()
    assert job.status == ClientImport.Status.DONE
    assert (job.rows_total, job.rows_done) == (20_003, 20_003)
    assert (job.added, job.updated, job.skipped, job.errors) == (20_000, 1, 1, 1)
    assert Client.objects.filter(owner=owner).count() == 20_001
    assert Client.objects.get(owner=owner, email="c1@example.org").full_name == "Client 1"
    assert Client.objects.get(owner=owner, email="c2@example.org").unsubscribed_at is not None
    assert Client.objects.get(owner=owner, email="c20001@example.org").full_name == "c20001"
    assert ClientTag.objects.filter(tag__owner=owner, tag__name="all").count() == 10_000
    assert tags_of(owner, "c3@example.org") == ["all", "odd"]
    assert not (import_dir / job.path).exists()  # the upload is removed, the report stays
    report = list(csv.reader(selectors.client_import_report(job).open(encoding="utf-8")))
    assert report[0] == list(services.imports.REPORT_HEADER)
    assert len(report) == 20_004
    assert report[-3][2:] == ["skipped", report[-3][3], "duplicate_in_file"]
    assert [problem[4] for problem in job.problems] == ["duplicate_in_file", "invalid", "name_from_email"]


def test_a_run_stopped_after_one_chunk_is_resumed_without_doubling_a_row(owner, import_dir):
    job = upload(owner, big_file(12_000))
    assert services.client_imports_run(max_chunks=1) == 1  # then the process "crashes", holding the lease
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.added) == (ClientImport.Status.RUNNING, 5000, 5000)
    assert Client.objects.filter(owner=owner).count() == 5000
    # A chunk's report rows written but never committed (a crash between the two) are cut off on resume.
    with selectors.client_import_report(job).open("a", encoding="utf-8") as report:
        report.write("99999,ghost@example.org,added,,\n")
    # Another scheduler leaves it alone while the lease holds...
    assert services.client_imports_run() == 0
    # ...and picks it up once it has expired.
    ClientImport.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timezone.timedelta(seconds=1))
    # A repeat in the second part of an address from the first part is still a repeat of the file.
    assert services.client_imports_run() == 2
    job.refresh_from_db()
    assert job.status == ClientImport.Status.DONE
    assert (job.rows_done, job.added, job.updated, job.skipped, job.errors) == (12_000, 12_000, 0, 0, 0)
    assert Client.objects.filter(owner=owner).count() == 12_000
    lines = [row[0] for row in csv.reader(selectors.client_import_report(job).open(encoding="utf-8"))][1:]
    assert len(lines) == len(set(lines)) == 12_000
    assert "99999" not in lines


def test_a_repeat_across_chunks_is_skipped_after_a_resume(owner, monkeypatch):
    monkeypatch.setattr(imports_module, "IMPORT_CHUNK", 3)
    note = b";;" + b"n" * 40 + b"\n"  # over the 200 bytes imported at once here
    data = b"email;full name;comment\n" + b"".join(
        address + note for address in (b"a@x.org", b"b@x.org", b"c@x.org", b"d@x.org", b"A@x.org")
    )
    job = upload(owner, data)
    services.client_imports_run(max_chunks=1)
    ClientImport.objects.filter(pk=job.pk).update(lease_until=None)
    services.client_imports_run()
    job.refresh_from_db()
    assert (job.added, job.skipped) == (4, 1)
    assert job.problems[-1][4] == ErrorCode.DUPLICATE_IN_FILE
    assert "line 2" in job.problems[-1][3]


def test_the_same_file_is_refused_while_it_is_being_imported(owner, import_dir):
    data = big_file(50)
    first = upload(owner, data)
    with pytest.raises(ValidationError) as caught:
        upload(owner, data, "again.csv")
    assert caught.value.code == ErrorCode.IMPORT_RUNNING
    assert sorted(path.name for path in import_dir.iterdir()) == [first.path]
    # Another file, or another owner with the same file, is taken (and waits its turn).
    assert isinstance(upload(owner, big_file(60)), ClientImport)
    assert isinstance(upload(UserFactory(), data), ClientImport)
    services.client_imports_run()
    assert isinstance(upload(owner, data), ClientImport)  # once finished, the file may be imported again


def test_a_file_that_cannot_be_read_fails_clearly_and_imports_nothing(owner):
    job = upload(owner, big_file(6000) + b'bad@example.org;"unclosed\n')
    services.client_imports_run()
    job.refresh_from_db()
    assert job.status == ClientImport.Status.FAILED
    assert job.error_code == ErrorCode.CSV_MALFORMED
    assert "Line 6002" in job.error
    assert not Client.objects.filter(owner=owner).exists()
    assert job.rows_done == 0


def test_a_file_over_the_limit_is_refused_at_upload(owner, settings):
    settings.MAILER_IMPORT_MAX_MB = 0
    with pytest.raises(ValidationError) as caught:
        upload(owner, big_file(10))
    assert caught.value.code == ErrorCode.CSV_TOO_LARGE


def test_a_missing_upload_fails_the_import(owner, import_dir):
    job = upload(owner, big_file(10))
    (import_dir / job.path).unlink()
    services.client_imports_run()
    job.refresh_from_db()
    assert (job.status, job.error_code) == (ClientImport.Status.FAILED, ErrorCode.IMPORT_FILE_MISSING)


def test_another_owners_import_is_not_found(owner):
    job = upload(owner, big_file(10))
    assert selectors.client_import_get(owner, job.pk) == job
    with pytest.raises(ClientImport.DoesNotExist):
        selectors.client_import_get(UserFactory(), job.pk)


def test_a_stopped_run_gives_its_lease_back_and_the_next_goes_on_at_once(owner):
    job = upload(owner, big_file(7000))
    calls = iter([False, False, True])  # the loop's check, the first chunk's, then the stop
    assert services.client_imports_run(stop=lambda: next(calls, True)) == 1
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.lease_until) == (ClientImport.Status.RUNNING, 5000, None)
    assert services.client_imports_run() == 1
    job.refresh_from_db()
    assert (job.status, job.added) == (ClientImport.Status.DONE, 7000)


def test_the_reasons_are_in_the_uploaders_language(owner):
    with translation.override("ru"):
        job = upload(owner, big_file(10) + b"c1@example.org;Again;;\n")
    services.client_imports_run()
    job.refresh_from_db()
    assert job.language == "ru"
    reason = job.problems[-1][3]
    assert job.problems[-1][4] == ErrorCode.DUPLICATE_IN_FILE
    assert any("\u0430" <= char <= "\u044f" for char in reason.lower()), reason  # Cyrillic


def test_a_chunk_the_database_keeps_refusing_is_paused_then_fails_without_holding_the_job(owner, monkeypatch):
    """A duplicate the import's own check misses (the database folds some letters differently from Python, as
    the Kelvin sign; simulated here by the refusal itself) rolls the chunk back. The job is paused, not
    retried at once — it returns instead of looping — and after IMPORT_CONFLICTS_MAX tries the import fails
    with what was imported kept."""
    from django.db import IntegrityError

    monkeypatch.setattr(imports_module, "IMPORT_CHUNK", 2)
    calls = {"n": 0}
    real = imports_module._import_rows

    def second_chunk_refused(owner_, chunk, report, seen, tags):
        calls["n"] += 1
        if any(row.email == "c@x.org" for row in chunk):
            raise IntegrityError("mailings_client_owner_email_ci_unique")
        return real(owner_, chunk, report, seen, tags)

    monkeypatch.setattr(imports_module, "_import_rows", second_chunk_refused)
    note = b";;" + b"n" * 60 + b"\n"
    data = b"email;full name;comment\n" + b"".join(
        address + note for address in (b"a@x.org", b"b@x.org", b"c@x.org", b"d@x.org")
    )
    job = upload(owner, data)
    for attempt in range(imports_module.IMPORT_CONFLICTS_MAX):
        services.client_imports_run()  # returns: the job does not spin on the same chunk
        job.refresh_from_db()
        if attempt < imports_module.IMPORT_CONFLICTS_MAX - 1:
            assert job.status == ClientImport.Status.RUNNING and job.lease_until > timezone.now()
            assert services.client_imports_run() == 0  # paused: not taken again at once
            ClientImport.objects.filter(pk=job.pk).update(lease_until=None)  # the pause is over
    assert job.status == ClientImport.Status.FAILED
    assert job.error_code == ErrorCode.IMPORT_CONFLICT and "first 2" in job.error
    assert sorted(Client.objects.filter(owner=owner).values_list("email", flat=True)) == [
        "a@x.org",
        "b@x.org",
    ]


def test_a_background_import_reads_a_utf16_tab_file_and_its_page_names_the_format_R_OWN_3(owner, client):
    """R-OWN-3: Excel's "Unicode text" (UTF-16, tab-separated) imported in the background like a small file;
    the import's page says which encoding and separator were used."""
    lines = ["email\tимя"] + [f"c{n}@example.org\tИван {n}" for n in range(20)]  # noqa: RUF001 - Cyrillic test data
    job = upload(owner, ("\n".join(lines) + "\n").encode("utf-16"), "excel.txt")
    assert isinstance(job, ClientImport)
    services.client_imports_run()
    job.refresh_from_db()
    assert (job.status, job.added, job.encoding, job.delimiter) == ("done", 20, "utf-16", "\t")
    assert Client.objects.get(owner=owner, email="c7@example.org").full_name == "Иван 7"
    client.force_login(owner)
    with translation.override("en"):
        page = client.get(f"/clients/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "read as UTF-16 text, its columns separated by tabs" in page
