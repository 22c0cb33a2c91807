"""Clients in and out as CSV (R-DATA-1, R-AUTH-4/5, R-SEND-8).

Reading refuses a file it cannot take as a whole (nothing imported); the import judges each row like
ClientForm, updates an address already in the list in any letter case, skips repeats and invalid rows with
the reason, keeps an unsubscribed address unsubscribed, and costs a fixed number of queries.
"""

import codecs
import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from backend.mailings import csv_io, services
from backend.mailings.csv_io import ClientRow, parse_clients_csv
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, Delivery, Unsubscription
from backend.mailings.services import ImportResult
from tests.factories import ClientFactory, MailingFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db


def refused(data: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_clients_csv(data)
    return caught.value


def cells(rows):
    return [(row.line, row.email, row.full_name, row.comment) for row in rows]


# --- reading a file ------------------------------------------------------------------------


def test_header_row_is_recognised_and_skipped():
    data = b"E-Mail,Full name,Comment\na@example.org,Ann Lee,vip\nb@example.org\n"
    assert cells(parse_clients_csv(data)) == [
        (2, "a@example.org", "Ann Lee", "vip"),
        (3, "b@example.org", "", ""),
    ]


@pytest.mark.parametrize("title", ["email", "EMAIL", "Email address", "Почта", "эл. почта"])
def test_every_known_header_title_is_skipped(title):
    """The translated export title ("эл. почта") is recognised, so an exported file imports back."""
    with translation.override("ru"):
        rows = parse_clients_csv(f"{title};ФИО\nivan@example.org;Иван\n".encode())
    assert cells(rows) == [(2, "ivan@example.org", "Иван", "")]


def test_without_a_header_the_first_line_is_a_client():
    assert cells(parse_clients_csv(b"a@example.org,Ann\n")) == [(1, "a@example.org", "Ann", "")]


def test_utf8_bom_and_semicolons_and_crlf():
    """Excel's "CSV UTF-8" on a Russian system: BOM, `;`, CRLF, Cyrillic."""
    data = (
        codecs.BOM_UTF8
        + "email;ФИО;комментарий\r\nivan@example.org;Иван Петров;постоянный клиент, 2020\r\n".encode()
    )
    assert cells(parse_clients_csv(data)) == [
        (2, "ivan@example.org", "Иван Петров", "постоянный клиент, 2020")
    ]


def test_delimiter_is_decided_by_the_first_line_and_quotes_are_respected():
    data = b'a@example.org,"Lee; Ann","one; two"\nb@example.org,Bo,"x, y"\n'
    assert cells(parse_clients_csv(data)) == [
        (1, "a@example.org", "Lee; Ann", "one; two"),
        (2, "b@example.org", "Bo", "x, y"),
    ]


def test_blank_lines_and_trailing_empty_cells_are_ignored_and_lines_counted():
    data = b'\n a@example.org ; Ann ;;\n\n\nb@example.org;"two\nlines"\nc@example.org\n'
    assert cells(parse_clients_csv(data)) == [
        (2, "a@example.org", "Ann", ""),
        (5, "b@example.org", "two\nlines", ""),
        (7, "c@example.org", "", ""),
    ]


def test_columns_a_header_names_beyond_three_are_allowed_and_ignored():
    """An export (email, full name, comment, subscribed, created) imports back; the subscription state is
    not read from a file (R-SEND-8: only the recipient unsubscribes or stays unsubscribed)."""
    data = b"email,full name,comment,subscribed,created\na@example.org,Ann,c,no,2025-01-01\n"
    assert cells(parse_clients_csv(data)) == [(2, "a@example.org", "Ann", "c")]
    assert refused(data + b"b@example.org,Bo,c,no,2025-01-01,extra\n").code == ErrorCode.CSV_MALFORMED


def test_over_5_mb_is_refused_before_reading():
    line = b"someone@example.org,Some One,a comment\n"
    data = line * (csv_io.MAX_IMPORT_BYTES // len(line))
    data += b"x" * (csv_io.MAX_IMPORT_BYTES + 1 - len(data))
    assert len(data) == 5 * 1024 * 1024 + 1
    error = refused(data)
    assert error.code == ErrorCode.CSV_TOO_LARGE
    assert "5 MB" in error.messages[0]


def test_exactly_5_mb_is_read():
    line = b"a@example.org,Some One," + b"c" * 2000 + b"\n"
    data = line * (csv_io.MAX_IMPORT_BYTES // len(line))
    data += b"\n" * (csv_io.MAX_IMPORT_BYTES - len(data))
    assert len(data) == csv_io.MAX_IMPORT_BYTES
    assert len(parse_clients_csv(data)) == csv_io.MAX_IMPORT_BYTES // len(line)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # an image
        b"PK\x03\x04\x14\x00\x06\x00",  # an .xlsx
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",  # a .gz
    ],
)
def test_binary_files_are_refused(data):
    assert refused(data).code == ErrorCode.CSV_BINARY


SPREADSHEET_TEXT = (
    "email;имя;комментарий\nivan@example.org;Иван Петров;постоянный клиент\nanna@example.org;Анна;\n"
)


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (SPREADSHEET_TEXT.encode("cp1251"), "Windows-1251", "semicolons"),
        ("ivan@example.org,Иван\n".encode("cp1251"), "Windows-1251", "commas"),
        # Found by hand from a fresh clone: charset-normalizer alone read this as Windows-1252 mojibake,
        # and (in review) the next one as Mac Cyrillic ("јнна").
        (
            "user0@example.org,Анна,новый клиент\nuser1@example.org,Иван Петров,новый клиент\n".encode(
                "cp1251"
            ),
            "Windows-1251",
            "commas",
        ),
        ("email;full_name\nivan@example.org;Иван Петров\n".encode("cp1251"), "Windows-1251", "semicolons"),
        (
            "email,name\nm@example.org,José Müller\nh@example.org,Anne-Hélène Dupré\n".encode("cp1252"),
            None,
            "commas",
        ),
        (SPREADSHEET_TEXT.replace(";", "\t").encode("utf-16"), "UTF-16", "tabs"),
        (SPREADSHEET_TEXT.encode("utf-16-le"), "UTF-16", "semicolons"),
        (SPREADSHEET_TEXT.replace(";", "\t").encode("utf-8-sig"), "UTF-8", "tabs"),
        (SPREADSHEET_TEXT.encode("koi8_r"), "KOI8-R", "semicolons"),
        ("email,name\nm@example.org,François Dupont\n".encode("cp1252"), None, "commas"),
    ],
    ids=[
        "cp1251",
        "cp1251-one-line",
        "cp1251-capitals",
        "cp1251-short-name",
        "latin-accents",
        "utf-16-tabs",
        "utf-16-no-bom",
        "utf-8-bom-tabs",
        "koi8-r",
        "latin",
    ],
)
def test_a_file_from_any_spreadsheet_is_read_and_says_how_R_OWN_3(data, encoding, delimiter):
    """R-OWN-3: Windows-1251 (a Russian Excel's CSV), UTF-16 (Excel's "Unicode text", tab-separated) and
    the other common encodings and separators are read, and `csv_format` names the ones used."""
    fmt = csv_io.csv_format(io.BytesIO(data))
    assert fmt.delimiter_name == delimiter
    if encoding:
        assert fmt.encoding_name == encoding
    rows = parse_clients_csv(data)
    assert rows[0].email.endswith("@example.org")
    if "Иван" in data.decode(fmt.encoding):
        assert rows[0].full_name.startswith("Иван") or rows[0].full_name == "Анна"
    if "Fran" in rows[0].full_name:
        assert rows[0].full_name == "François Dupont"
    if "Jos" in rows[0].full_name:
        assert [row.full_name for row in rows] == ["José Müller", "Anne-Hélène Dupré"]


def test_a_line_that_breaks_the_encoding_is_refused_naming_the_line():
    """The encoding is judged on the file's first megabyte; a later line that is not that text stops the
    whole file with its line number."""
    data = b"a@example.org,Ann," + b"c" * 200 + b"\n"
    data = data * 6000 + "b@example.org,Иван\n".encode("cp1251")
    error = refused(data)
    assert error.code == ErrorCode.CSV_BINARY
    assert "Line 6001 is not UTF-8 text" in error.messages[0]


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (b'a@example.org,"Ann\nb@example.org,Bo\n', ErrorCode.CSV_MALFORMED, None),  # unclosed quote
        (b'a@example.org,"Ann"x,c\n', ErrorCode.CSV_MALFORMED, 1),  # text after a closing quote
        (b"a@example.org,Ann,c\nb@example.org,Bo,c,t,extra\n", ErrorCode.CSV_MALFORMED, 2),
        (b"", ErrorCode.CSV_EMPTY, None),
        (b"\n\r\n;;\n", ErrorCode.CSV_EMPTY, None),
        (b"email,full name,comment\n", ErrorCode.CSV_EMPTY, None),
    ],
)
def test_malformed_and_empty_files_are_refused(data, code, line):
    error = refused(data)
    assert error.code == code
    if line:
        assert f"Line {line} " in error.messages[0]


LONG_CELL = "x" * (csv_io.csv.field_size_limit() + 1)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (f"a@example.org,{LONG_CELL}\n".encode(), 1),
        (f"\n\nemail,{LONG_CELL}\n".encode(), 3),  # the first line that is not blank decides the delimiter
        (f'email\na@example.org,"{LONG_CELL}"\n'.encode(), 2),
        (f"email\na@example.org\nb@example.org;{LONG_CELL}\n".encode(), 3),
    ],
    ids=["first-line", "first-after-blank-lines", "later-quoted", "later-plain"],
)
def test_a_cell_over_the_csv_field_limit_is_refused_naming_the_line(data, line):
    """Issue item (a cell over 131,072 characters, first line or later): the whole file is refused with
    a clear error naming the line and the limit, never a crash of the csv module's field limit."""
    error = refused(data)
    assert error.code == ErrorCode.CSV_MALFORMED
    assert error.messages == [
        f"Line {line} has a cell longer than 131072 characters; this is not a clients file."
    ]


def test_more_than_50000_rows_are_refused():
    rows = b"".join(b"c%d@example.org\n" % n for n in range(csv_io.MAX_IMPORT_ROWS))
    assert len(parse_clients_csv(b"email\n" + rows)) == csv_io.MAX_IMPORT_ROWS
    assert refused(rows + b"one-more@example.org\n").code == ErrorCode.CSV_TOO_MANY_ROWS


# --- importing ------------------------------------------------------------------------------


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


def results(report):
    return [(row.line, row.email, row.result, row.code) for row in report.rows]


def test_owner_imports_adds_updates_and_skips_with_reasons(owner):
    """Added, updated (any letter case), duplicate in the file, invalid line, unchanged."""
    ClientFactory(owner=owner, email="Known@Example.org", full_name="Old Name", comment="keep me")
    ClientFactory(owner=owner, email="same@example.org", full_name="Same", comment="")
    data = (
        b"email;full name;comment\n"
        b"new@example.org;New One;from the fair\n"
        b"known@EXAMPLE.org;New Name;\n"
        b"NEW@example.org;Again;\n"
        b"not-an-address;Broken;\n"
        b"same@example.org;Same;\n"
        b"bare@example.org\n"
    )
    report = services.clients_import_csv(actor=owner, data=data)
    assert results(report) == [
        (2, "new@example.org", ImportResult.ADDED, ""),
        (3, "known@example.org", ImportResult.UPDATED, ""),
        (4, "NEW@example.org", ImportResult.SKIPPED, ErrorCode.DUPLICATE_IN_FILE),
        (5, "not-an-address", ImportResult.SKIPPED, "invalid"),
        (6, "same@example.org", ImportResult.SKIPPED, ErrorCode.UNCHANGED),
        (7, "bare@example.org", ImportResult.ADDED, ErrorCode.NAME_FROM_EMAIL),
    ]
    assert (report.added, report.updated, report.skipped) == (2, 1, 3)
    assert "line 2" in report.rows[2].reason
    assert "valid email" in report.rows[3].reason
    assert Client.objects.filter(owner=owner).count() == 4
    known = Client.objects.get(owner=owner, email="Known@Example.org")
    # An empty cell keeps what was there: an import never erases.
    assert (known.full_name, known.comment) == ("New Name", "keep me")
    added = Client.objects.get(owner=owner, email="new@example.org")
    assert (added.full_name, added.comment, added.unsubscribed_at) == ("New One", "from the fair", None)
    assert added.unsubscribe_token and added.created_at
    assert Client.objects.get(owner=owner, email="bare@example.org").full_name == "bare"


def test_field_lengths_are_judged_like_the_form(owner):
    report = services.clients_import(
        actor=owner,
        rows=[
            ClientRow(1, "long@example.org", "x" * 256, ""),
            ClientRow(2, "a" * 250 + "@example.org", "A", ""),
            ClientRow(3, "", "Nobody", ""),
            ClientRow(4, "ok@example.org", "x" * 255, "c" * 10_000),
        ],
    )
    assert [(row.result, row.code) for row in report.rows] == [
        (ImportResult.SKIPPED, "max_length"),
        (ImportResult.SKIPPED, "max_length"),
        (ImportResult.SKIPPED, "required"),
        (ImportResult.ADDED, ""),
    ]
    assert "255" in report.rows[0].reason
    assert list(Client.objects.values_list("email", flat=True)) == ["ok@example.org"]


def test_the_domain_is_lower_cased_like_the_form(owner):
    report = services.clients_import(actor=owner, rows=[ClientRow(1, " Ann@EXAMPLE.ORG ", "Ann", "")])
    assert report.rows[0].email == "Ann@example.org"
    assert Client.objects.get().email == "Ann@example.org"


def test_a_later_valid_row_is_taken_when_the_first_with_that_address_was_invalid(owner):
    report = services.clients_import(
        actor=owner,
        rows=[ClientRow(1, "a@example.org", "x" * 300, ""), ClientRow(2, "a@example.org", "Ann", "")],
    )
    assert [row.result for row in report.rows] == [ImportResult.SKIPPED, ImportResult.ADDED]


def test_an_address_that_unsubscribed_is_imported_but_stays_unsubscribed(owner):
    """R-SEND-8: the recipient's choice survives deleting the client and importing the address again."""
    gone = ClientFactory(owner=owner, email="gone@example.org")
    services.client_unsubscribe(client=gone)
    gone.delete()
    subscribed = ClientFactory(owner=owner, email="slipped@example.org")
    Unsubscription.objects.create(owner=owner, email="slipped@example.org")
    report = services.clients_import_csv(
        actor=owner, data=b"GONE@example.org,Back Again\nslipped@example.org,Slipped\nfresh@example.org,F\n"
    )
    assert [row.result for row in report.rows] == [
        ImportResult.ADDED,
        ImportResult.UPDATED,
        ImportResult.ADDED,
    ]
    left = Unsubscription.objects.get(owner=owner, email="gone@example.org")
    assert Client.objects.get(email="GONE@example.org").unsubscribed_at == left.created_at
    subscribed.refresh_from_db()
    assert subscribed.unsubscribed_at is not None
    assert Client.objects.get(email="fresh@example.org").unsubscribed_at is None


def test_another_owners_list_is_neither_read_nor_changed(owner):
    """R-AUTH-4: the same address in another owner's list is a new client here, and theirs is untouched."""
    theirs = ClientFactory(email="shared@example.org", full_name="Theirs", comment="private")
    Unsubscription.objects.create(owner=theirs.owner, email="shared@example.org")
    report = services.clients_import_csv(actor=owner, data=b"shared@example.org,Mine,mine\n")
    assert report.rows[0].result == ImportResult.ADDED
    mine = Client.objects.get(owner=owner)
    assert mine.unsubscribed_at is None
    theirs.refresh_from_db()
    assert (theirs.full_name, theirs.comment, theirs.unsubscribed_at) == ("Theirs", "private", None)


@pytest.mark.parametrize("who", ["manager", "blocked", "inactive", "anonymous"])
def test_managers_blocked_inactive_and_anonymous_cannot_import(owner, who):
    """R-AUTH-5: a manager manages no mailing lists; R-AUTH-4: nobody signed out or blocked imports."""
    actor = {
        "manager": lambda: make_manager(),
        "blocked": lambda: UserFactory(is_blocked=True),
        "inactive": lambda: UserFactory(is_active=False),
        "anonymous": AnonymousUser,
    }[who]()
    with pytest.raises(PermissionDenied):
        services.clients_import_csv(actor=actor, data=b"a@example.org,Ann\n")
    with pytest.raises(PermissionDenied):
        services.clients_import(actor=actor, rows=[ClientRow(1, "a@example.org", "Ann", "")])
    assert not Client.objects.exists()


def test_a_superuser_imports_into_their_own_list():
    root = UserFactory(is_superuser=True, is_staff=True)
    services.clients_import_csv(actor=root, data=b"a@example.org,Ann\n")
    assert Client.objects.get().owner == root


@pytest.mark.parametrize(
    "data",
    [
        b"a@example.org,Ann\nb@example.org,Bo,c,d,e\n",
        b"a@example.org,Ann\n\x00",
        b"a@example.org,Ann\n" + b"x" * csv_io.MAX_IMPORT_BYTES,
        b"a@example.org,Ann\nb@example.org," + b"x" * 200_000 + b"\n",
        b"a@example.org," + b"x" * 200_000 + b"\nb@example.org,Bo\n",
    ],
)
def test_a_file_that_cannot_be_read_changes_nothing(owner, data):
    existing = ClientFactory(owner=owner, email="a@example.org", full_name="Before")
    with pytest.raises(ValidationError):
        services.clients_import_csv(actor=owner, data=data)
    existing.refresh_from_db()
    assert existing.full_name == "Before"
    assert Client.objects.count() == 1


def test_too_many_rows_as_a_list_are_refused(owner):
    rows = [ClientRow(n, f"c{n}@example.org", "", "") for n in range(csv_io.MAX_IMPORT_ROWS + 1)]
    with pytest.raises(ValidationError) as caught:
        services.clients_import(actor=owner, rows=rows)
    assert caught.value.code == ErrorCode.CSV_TOO_MANY_ROWS
    assert not Client.objects.exists()


def test_missing_values_in_a_list_input_count_as_empty(owner):
    report = services.clients_import(actor=owner, rows=[ClientRow(1, "a@example.org", None, None)])
    assert report.rows[0].result == ImportResult.ADDED
    assert Client.objects.get().comment == ""


def _file(count: int, *, prefix: str = "client", name: str = "Client") -> bytes:
    return "".join(f"{prefix}{n}@example.org;{name} {n};note {n}\n" for n in range(count)).encode()


def test_query_count_does_not_grow_with_the_rows(owner):
    """No query per row (the bench measures the time). Inserts and updates go in batches
    (SQLite's limit on a statement's parameters makes them smaller there), so 600 rows cost at most one
    more query per hundred rows than 10 do."""

    def queries(data: bytes, expected: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            report = services.clients_import_csv(actor=owner, data=data)
        assert {row.result for row in report.rows} == {expected}
        return len(captured)

    added = [queries(_file(size, prefix=prefix), "added") for size, prefix in ((10, "a"), (600, "b"))]
    updated = [
        queries(_file(size, prefix=prefix, name="Renamed"), "updated")
        for size, prefix in ((10, "a"), (600, "b"))
    ]
    assert added[1] - added[0] <= 6
    assert updated[1] - updated[0] <= 6
    assert Client.objects.filter(full_name__startswith="Renamed").count() == 610


def test_ten_thousand_rows_import_in_one_go(owner):
    report = services.clients_import_csv(actor=owner, data=_file(10_000))
    assert report.added == 10_000
    assert Client.objects.filter(owner=owner).count() == 10_000
    assert len(set(Client.objects.values_list("unsubscribe_token", flat=True))) == 10_000


# --- writing --------------------------------------------------------------------------------


def read(lines) -> list[list[str]]:
    text = "".join(lines)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_clients_export_has_a_header_and_one_line_per_client(owner):
    ann = ClientFactory(owner=owner, email="ann@example.org", full_name="Ann Lee", comment="two\nlines")
    bob = ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    services.client_unsubscribe(client=bob)
    Client.objects.filter(pk=ann.pk).update(created_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC))
    rows = read(csv_io.clients_csv(Client.objects.filter(owner=owner).order_by("email"), dt.UTC))
    assert rows == [
        ["email", "full name", "comment", "subscribed", "created (UTC)", "tags"],
        ["ann@example.org", "Ann Lee", "two\nlines", "yes", "2025-03-01 09:30:00+00:00", ""],
        ["bob@example.org", "Bob", "", "no", rows[2][4], ""],
    ]


def test_both_exports_state_times_one_way_in_the_users_zone_R_UI_2(owner, client):
    """R-UI-2: the clients export and a report's log export state times alike: in the exporting user's
    zone, named in the column title, each value ISO 8601 with its offset."""
    owner.time_zone = "Asia/Tokyo"
    owner.save(update_fields=["time_zone"])
    ann = ClientFactory(owner=owner, email="ann@example.org")
    Client.objects.filter(pk=ann.pk).update(created_at=dt.datetime(2025, 3, 1, 21, 30, tzinfo=dt.UTC))
    mailing = MailingFactory(owner=owner)
    occurrence = mailing.occurrences.create(scheduled_for=dt.datetime(2025, 3, 1, 21, 30, tzinfo=dt.UTC))
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, email="ann@example.org", client=ann)
    client.force_login(owner)
    clients = read([b"".join(client.get("/clients/export/").streaming_content).decode()])
    log = read([b"".join(client.get(f"/mailings/{mailing.pk}/report/export/").streaming_content).decode()])
    assert clients[0][4] == "created (Asia/Tokyo)" and clients[1][4] == "2025-03-02 06:30:00+09:00"
    assert log[0][5] == "send scheduled for (Asia/Tokyo)" and log[1][5] == "2025-03-02 06:30:00+09:00"


def test_export_neutralises_spreadsheet_formulas_and_imports_back_unchanged(owner):
    """CSV injection: a cell starting with = + - @ is written with a leading apostrophe, which the
    importer takes off again."""
    risky = {'=HYPERLINK("http://evil")': "+1 555", "-2+3": "@SUM(A1)"}
    for n, (name, comment) in enumerate(risky.items()):
        ClientFactory(owner=owner, email=f"r{n}@example.org", full_name=name, comment=comment)
    lines = list(csv_io.clients_csv(Client.objects.filter(owner=owner).order_by("email"), dt.UTC))
    exported = read(lines)[1:]
    assert [(row[1], row[2]) for row in exported] == [("'" + n, "'" + c) for n, c in risky.items()]
    report = services.clients_import_csv(actor=owner, data="".join(lines).encode())
    assert [row.code for row in report.rows] == [ErrorCode.UNCHANGED, ErrorCode.UNCHANGED]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(value):
    assert csv_io.safe_cell(value) == "'" + value
    assert csv_io.safe_cell("a" + value) == "a" + value


@pytest.mark.parametrize("separator", [";", ","])
@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_a_formula_after_a_separator_inside_a_cell_is_neutralised(separator, value):
    """Issue item: Excel with a Russian or German locale splits a line on `;`, so the text after a `;` (or
    `,`) inside a cell starts a cell of its own there: it gets the apostrophe too."""
    assert csv_io.safe_cell(f"a{separator}{value}") == f"a{separator}'{value}"
    assert csv_io.safe_cell(f"{value}{separator}{value}") == f"'{value}{separator}'{value}"
    assert csv_io.safe_cell(f"a{separator} {value}") == f"a{separator} {value}"


def test_an_export_opened_split_on_semicolons_has_no_formula_cell(owner):
    """Issue item: every piece of every exported line, split on `;` as a Russian Excel does, and on `,`,
    starts with no formula character."""
    ClientFactory(
        owner=owner,
        email="a@example.org",
        full_name='Ann;=HYPERLINK("http://evil")',
        comment="ok;+1;-2, @x;\tcmd",
    )
    ClientFactory(owner=owner, email="b@example.org", full_name="Bob", comment="x,=1+1")
    text = "".join(csv_io.clients_csv(Client.objects.filter(owner=owner).order_by("email"), dt.UTC))
    for line in text.splitlines():
        for piece in [p for part in line.split(";") for p in part.split(",")]:
            assert not piece.lstrip('"').startswith(csv_io.FORMULA_START), (line, piece)


@pytest.mark.parametrize(
    ("full_name", "comment"),
    [
        ("Ann;=cmd", "a,+1;-2"),
        ("'=already quoted", "x;'@y"),
        ("=x;'", "';=;''-"),
    ],
)
def test_an_export_with_separators_and_apostrophes_imports_back_unchanged(owner, full_name, comment):
    """The apostrophes the export adds (at the start and after a separator) are the ones the import takes
    off: a text that had an apostrophe there already keeps it."""
    ClientFactory(owner=owner, email="a@example.org", full_name=full_name, comment=comment)
    lines = list(csv_io.clients_csv(Client.objects.filter(owner=owner), dt.UTC))
    report = services.clients_import_csv(actor=owner, data="".join(lines).encode())
    assert [row.code for row in report.rows] == [ErrorCode.UNCHANGED]


def test_an_export_in_russian_imports_back(owner):
    ClientFactory(owner=owner, email="ivan@example.org", full_name="Иван")
    with translation.override("ru"):
        data = "".join(csv_io.clients_csv(Client.objects.filter(owner=owner), dt.UTC)).encode()
        report = services.clients_import_csv(actor=owner, data=data)
    assert [(row.line, row.code) for row in report.rows] == [(2, ErrorCode.UNCHANGED)]


def test_deliveries_export_shows_times_in_the_viewers_zone(owner):
    """Each row names its send (occurrence) by its scheduled time, in the viewer's zone
    like the attempt time, as the last column."""
    mailing = MailingFactory(owner=owner)
    occurrence = mailing.occurrences.create(scheduled_for=dt.datetime(2025, 6, 1, 21, 0, tzinfo=dt.UTC))
    earlier = mailing.occurrences.create(scheduled_for=dt.datetime(2025, 5, 31, 21, 0, tzinfo=dt.UTC))
    Delivery.objects.create(mailing=mailing, occurrence=earlier, email="c@example.org", status="sent")
    at = dt.datetime(2025, 6, 1, 21, 15, 5, tzinfo=dt.UTC)
    Delivery.objects.create(
        mailing=mailing,
        occurrence=occurrence,
        email="a@example.org",
        status="failed",
        attempts=1,
        last_attempt_at=at,
        last_response="=550 no such user",
    )
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, email="b@example.org")
    rows = read(
        csv_io.deliveries_csv(
            Delivery.objects.order_by("email"), zoneinfo.ZoneInfo("Europe/Moscow"), relay_answers=True
        )
    )
    assert rows == [
        [
            "email",
            "status",
            "attempts",
            "last attempt (Europe/Moscow)",
            "last server answer",
            "send scheduled for (Europe/Moscow)",
        ],
        [
            "a@example.org",
            "failed",
            "1",
            "2025-06-02 00:15:05+03:00",
            "'=550 no such user",
            "2025-06-02 00:00:00+03:00",
        ],
        ["b@example.org", "pending", "0", "", "", "2025-06-02 00:00:00+03:00"],
        ["c@example.org", "sent", "0", "", "", "2025-06-01 00:00:00+03:00"],
    ]
