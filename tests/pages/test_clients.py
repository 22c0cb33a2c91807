"""The client pages: list, add, edit, delete, import, export — owner-scoped (R-AUTH-4)."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backend.mailings import services
from backend.mailings.models import Client, ClientImport
from backend.mailings.services import imports
from tests.factories import ClientFactory, MailingFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


# --- list -----------------------------------------------------------------------------------------------


def test_list_shows_only_the_owners_clients_R_AUTH_4(client, owner):
    ClientFactory(owner=owner, email="mine@example.org", full_name="Mine Person")
    ClientFactory(email="theirs@example.org")
    response = client.get(reverse("clients:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "mine@example.org" in html
    assert "theirs@example.org" not in html
    assert reverse("clients:new") in html


def test_empty_list_says_what_to_do_next(client, owner):
    html = client.get(reverse("clients:list")).content.decode()
    assert 'data-testid="empty-state"' in html
    assert "Add your first client" in html


def test_search_by_email_and_by_name(client, owner):
    ClientFactory(owner=owner, email="anna@example.org", full_name="Anna Karenina")
    ClientFactory(owner=owner, email="boris@example.org", full_name="Boris Godunov")
    by_email = client.get(reverse("clients:list"), {"q": "ANNA@"}).content.decode()
    assert "anna@example.org" in by_email and "boris@example.org" not in by_email
    by_name = client.get(reverse("clients:list"), {"q": "godun"}).content.decode()
    assert "boris@example.org" in by_name and "anna@example.org" not in by_name
    nothing = client.get(reverse("clients:list"), {"q": "zzz"}).content.decode()
    assert 'data-testid="no-match"' in nothing


def test_sorting_by_a_whitelisted_column_and_ignoring_others(client, owner):
    ClientFactory(owner=owner, email="b@example.org", full_name="Alpha")
    ClientFactory(owner=owner, email="a@example.org", full_name="Beta")
    by_email = client.get(reverse("clients:list"), {"sort": "email"}).content.decode()
    assert by_email.index("a@example.org") < by_email.index("b@example.org")
    by_email_desc = client.get(reverse("clients:list"), {"sort": "-email"}).content.decode()
    assert by_email_desc.index("b@example.org") < by_email_desc.index("a@example.org")
    # A field that is not a column (here one that would sort by a secret) falls back to the default sort.
    sneaky = client.get(reverse("clients:list"), {"sort": "owner__password"})
    assert sneaky.status_code == 200
    html = sneaky.content.decode()
    assert html.index("b@example.org") < html.index("a@example.org")  # by name: Alpha, Beta


def test_pagination_25_per_page_keeps_search_and_sort(client, owner):
    for n in range(30):
        ClientFactory(owner=owner, email=f"c{n:02d}@example.org", full_name=f"Client {n:02d}")
    first = client.get(reverse("clients:list"), {"sort": "email", "q": "example"})
    assert len(first.context["table"]["rows"]) == 25
    assert "page=2" in first.context["table"]["next_url"]
    assert "q=example" in first.context["table"]["next_url"]
    assert "sort=email" in first.context["table"]["next_url"]
    second = client.get(reverse("clients:list"), {"sort": "email", "q": "example", "page": 2})
    html = second.content.decode()
    assert len(second.context["table"]["rows"]) == 5
    assert "c29@example.org" in html and "c00@example.org" not in html
    assert client.get(reverse("clients:list"), {"page": "abc"}).status_code == 200
    assert client.get(reverse("clients:list"), {"page": 999}).status_code == 200


def test_list_query_count_does_not_grow_with_rows(client, owner):
    """The SQL count of a list page is the same for 5 and for 100 clients."""
    ClientFactory.create_batch(5, owner=owner)
    few = queries_for(client, reverse("clients:list"))
    ClientFactory.create_batch(95, owner=owner)
    many = queries_for(client, reverse("clients:list"))
    assert few == many


# --- create / edit / delete -----------------------------------------------------------------------------


def test_add_a_client_through_the_form(client, owner):
    page = client.get(reverse("clients:new"))
    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()
    response = client.post(
        reverse("clients:new"),
        {"email": "New@Example.org", "full_name": "New Person", "comment": "met at the fair"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("clients:list") + "?sort=-created"
    created = Client.objects.get(owner=owner)
    assert (created.email, created.full_name, created.comment) == (
        "New@example.org",
        "New Person",
        "met at the fair",
    )
    assert "Client New@example.org added." in response.content.decode()


def test_the_form_takes_a_client_without_a_name_like_an_import_does_R_DATA_1(client, owner):
    """R-DATA-1: one rule for the form and the import: the name is optional, and without one the part of
    the address before the @ is used."""
    page = client.get(reverse("clients:new")).content.decode()
    assert "the part of the address before the @ is used" in page
    assert 'name="full_name"' in page and 'name="full_name" maxlength="255" required' not in page
    response = client.post(reverse("clients:new"), {"email": "olga.s@example.org", "full_name": " "})
    assert response.status_code == 302
    assert Client.objects.get(owner=owner).full_name == "olga.s"
    mine = Client.objects.get(owner=owner)
    client.post(reverse("clients:edit", args=[mine.pk]), {"email": "olga@example.org", "full_name": ""})
    mine.refresh_from_db()
    assert (mine.email, mine.full_name) == ("olga@example.org", "olga")


def test_after_adding_a_client_the_list_shows_it_first(client, owner):
    """After "Add a client" the owner lands on the list sorted newest first, the new client
    in the first row, though by name it would be on the second page."""
    for n in range(30):
        ClientFactory(owner=owner, email=f"a{n}@example.org", full_name=f"Aaron {n:02}")
    response = client.post(
        reverse("clients:new"), {"email": "zoe@example.org", "full_name": "Zoe Last"}, follow=True
    )
    first_row = response.context["table"]["rows"][0]
    assert dict((column.key, value) for column, value in first_row["cells"])["email"] == "zoe@example.org"
    assert response.context["sort"] == "-created"


def test_an_invalid_form_keeps_what_was_typed_and_saves_nothing(client, owner):
    ClientFactory(owner=owner, email="taken@example.org")
    response = client.post(
        reverse("clients:new"), {"email": "TAKEN@example.org", "full_name": "Typed Name", "comment": "kept"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You already have a client with this email." in html
    assert 'value="TAKEN@example.org"' in html
    assert 'value="Typed Name"' in html
    assert "kept</textarea>" in html
    assert 'class="form-control is-invalid"' in html
    assert Client.objects.filter(owner=owner).count() == 1


def test_edit_a_client(client, owner):
    mine = ClientFactory(owner=owner, email="old@example.org", full_name="Old Name")
    page = client.get(reverse("clients:edit", args=[mine.pk]))
    assert page.status_code == 200
    assert 'value="old@example.org"' in page.content.decode()
    response = client.post(
        reverse("clients:edit", args=[mine.pk]),
        {"email": "new@example.org", "full_name": "New Name", "comment": ""},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.email, mine.full_name) == ("new@example.org", "New Name")


def test_edit_with_invalid_data_shows_errors_and_changes_nothing(client, owner):
    mine = ClientFactory(owner=owner, email="keep@example.org", full_name="Keep")
    response = client.post(
        reverse("clients:edit", args=[mine.pk]), {"email": "not-an-email", "full_name": "", "comment": ""}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="not-an-email"' in html
    assert "Edit client keep@example.org" in html
    mine.refresh_from_db()
    assert (mine.email, mine.full_name) == ("keep@example.org", "Keep")


def test_delete_asks_then_deletes(client, owner):
    mine = ClientFactory(owner=owner)
    MailingFactory(owner=owner, clients=[mine])
    page = client.get(reverse("clients:delete", args=[mine.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="delete-confirmation"' in html
    assert "taken out of 1 mailing" in html
    assert Client.objects.filter(pk=mine.pk).exists()
    response = client.post(reverse("clients:delete", args=[mine.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("clients:list")
    assert not Client.objects.filter(pk=mine.pk).exists()
    assert "deleted" in response.content.decode()


# --- who may -------------------------------------------------------------------------------------------


def _id_urls(pk: int) -> list[str]:
    return [reverse("clients:edit", args=[pk]), reverse("clients:delete", args=[pk])]


def test_another_owners_client_is_a_404_like_a_missing_one_R_AUTH_4(client, owner):
    theirs = ClientFactory(email="theirs@example.org", full_name="Theirs")
    missing = Client.objects.order_by("-pk").first().pk + 1000
    for url in _id_urls(theirs.pk):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"email": "hijack@example.org", "full_name": "X"}).status_code == 404, url
    for url in _id_urls(missing):
        assert client.get(url).status_code == 404, url
    theirs.refresh_from_db()
    assert (theirs.email, theirs.full_name) == ("theirs@example.org", "Theirs")


def test_anonymous_visitors_go_to_the_login_page(client):
    mine = ClientFactory()
    for url in [reverse("clients:list"), reverse("clients:new"), *_id_urls(mine.pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert client.post(reverse("clients:delete", args=[mine.pk])).status_code == 302
    assert Client.objects.filter(pk=mine.pk).exists()


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client):
    someone = ClientFactory(email="someone@example.org")
    for role, user in refused_accounts().items():
        client.force_login(user)
        for url in [reverse("clients:list"), reverse("clients:new"), *_id_urls(someone.pk)]:
            response = client.get(url)
            assert_refused_page(response)
            assert "someone@example.org" not in response.content.decode(), (role, url)
        response = client.post(reverse("clients:new"), {"email": "x@example.org", "full_name": "X"})
        assert response.status_code == 403
        assert client.post(reverse("clients:delete", args=[someone.pk])).status_code == 403
    assert list(Client.objects.values_list("email", flat=True)) == ["someone@example.org"]


def test_a_blocked_owner_is_signed_out_and_sent_to_login(client, owner):
    owner.is_blocked = True
    owner.save()
    response = client.get(reverse("clients:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_navbar_offers_the_owner_pages_to_owners_only(client, owner):
    html = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("clients:list")}"' in html
    assert f'href="{reverse("messages:list")}"' in html
    client.force_login(refused_accounts()["manager"])
    html = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("clients:list")}"' not in html


# --- import ---------------------------------------------------------------------------------------------


def _upload(client, content: bytes, name: str = "clients.csv"):
    return client.post(reverse("clients:import"), {"file": SimpleUploadedFile(name, content, "text/csv")})


def test_import_page_renders_with_a_file_field(client, owner):
    response = client.get(reverse("clients:import"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html


def test_import_a_good_file_reports_added_updated_and_skipped_rows_with_reasons(client, owner):
    ClientFactory(owner=owner, email="known@example.org", full_name="Old Name")
    theirs = ClientFactory(email="shared@example.org", full_name="Their Name")
    content = (
        b"email,full name,comment\n"
        b"new@example.org,New Person,from the fair\n"
        b"KNOWN@example.org,New Name,\n"
        b"new@example.org,Again,\n"
        b"not-an-email,Broken,\n"
        b"shared@example.org,My Name,\n"
    )
    response = _upload(client, content)
    assert response.status_code == 200
    html = response.content.decode()
    report = response.context["report"]
    assert (report.added, report.updated, report.skipped) == (2, 1, 2)
    assert "Import finished: 2 added, 1 updated, 2 skipped." in html
    assert "The same address is on line 2 of this file." in html
    assert "not-an-email" in html
    assert {c.email: c.full_name for c in Client.objects.filter(owner=owner)} == {
        "known@example.org": "New Name",
        "new@example.org": "New Person",
        "shared@example.org": "My Name",
    }
    theirs.refresh_from_db()
    assert theirs.full_name == "Their Name"


def test_a_clean_import_lists_every_row_with_its_result_updated_ones_too(client, owner):
    """A clean import showed only "Every row was imported as it was."; the report lists
    each row's line, address and result (added, updated), and the rows with a reason apart."""
    ClientFactory(owner=owner, email="known@example.org", full_name="Old Name")
    content = (
        b"email;full name;comment\n"
        b"anna@example.org;Anna;\n"
        b"known@example.org;New Name;\n"
        b"nameless@example.org;;\n"
    )
    response = _upload(client, content)
    html = response.content.decode()
    plain = html.split('data-testid="import-plain-rows"')[1].split("</table>")[0]
    assert re.search(
        r'data-line="2">\s*<td>2</td>\s*<td[^>]*>anna@example.org</td>\s*<td>\s*<span[^>]*>added<', plain
    )
    assert re.search(
        r'data-line="3">\s*<td>3</td>\s*<td[^>]*>known@example.org</td>\s*<td>\s*<span[^>]*>updated<', plain
    )
    noted = html.split('data-testid="import-rows"')[1].split("</table>")[0]
    assert "nameless@example.org" in noted and "the part of the address before the @ was used" in noted
    assert "nameless@example.org" not in plain


def test_a_long_import_report_stops_at_500_rows_with_a_note(client, owner):
    content = "".join(f"c{n}@example.org;Client {n};\n" for n in range(502)).encode()
    response = _upload(client, content)
    assert response.context["report"].added == 502
    html = response.content.decode()
    assert html.count("<tr data-line=") == 500
    assert "…and 2 more rows." in html


def test_import_utf8_bom_and_semicolons(client, owner):
    content = "\ufeffemail;full name;comment\nivan@example.org;Иван Петров;друг, коллега\n".encode()
    response = _upload(client, content)
    assert response.status_code == 200
    assert response.context["report"].added == 1
    imported = Client.objects.get(owner=owner)
    assert (imported.email, imported.full_name, imported.comment) == (
        "ivan@example.org",
        "Иван Петров",
        "друг, коллега",
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a@example.org,A,one,two,three\n", "Line 1 has 5 columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "This is not a text file"),
        (
            b"email\n" + (b"a@example.org,A," + b"c" * 200 + b"\n") * 6000 + b"\xff broken\n",
            "Line 6002 is not UTF",
        ),
        (b"", "The submitted file is empty."),
        (b"email,full name\n", "The file has no clients in it."),
        (b"a@example.org," + b"x" * 131_073 + b"\n", "Line 1 has a cell longer than 131072 characters"),
        (b"a@example.org,A\nb@example.org,B\x00\n", "This is not a text file"),
    ],
    ids=["malformed", "binary", "not-utf8", "empty-upload", "header-only", "cell-over-limit", "nul-byte"],
)
def test_an_unreadable_file_gives_a_clear_error_and_changes_nothing(client, owner, content, reason):
    ClientFactory(owner=owner, email="keep@example.org", full_name="Keep")
    response = _upload(client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert reason in html
    assert 'class="invalid-feedback d-block"' in html
    assert list(Client.objects.filter(owner=owner).values_list("email", "full_name")) == [
        ("keep@example.org", "Keep")
    ]


def test_a_file_over_5_mb_goes_to_the_background_and_over_the_limit_is_refused(
    client, owner, settings, tmp_path
):
    """Up to 5 MB a file is imported at once; a larger one is stored for the scheduler (R-AUD-3), and one
    over MAILER_IMPORT_MAX_MB is refused whole."""
    settings.MAILER_IMPORT_DIR = tmp_path / "imports"
    line = b"someone@example.org,Some One,padding padding padding padding padding\n"
    content = b"email,full name,comment\n" + line * (5 * 1024 * 1024 // len(line) + 1)
    assert len(content) > 5 * 1024 * 1024
    settings.MAILER_IMPORT_MAX_MB = 5
    response = _upload(client, content)
    assert response.status_code == 200
    assert "The file is larger than 5 MB" in response.content.decode()
    assert not ClientImport.objects.exists()
    settings.MAILER_IMPORT_MAX_MB = 6
    response = _upload(client, content)
    job = ClientImport.objects.get(owner=owner)
    assert response["Location"] == reverse("clients:import-status", args=[job.pk])
    assert (settings.MAILER_IMPORT_DIR / job.path).stat().st_size == len(content)
    assert not Client.objects.filter(owner=owner).exists()


def test_import_without_a_file_asks_for_one(client, owner):
    response = client.post(reverse("clients:import"), {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


# --- export ---------------------------------------------------------------------------------------------


def test_export_streams_the_owners_clients_as_csv(client, owner):
    ClientFactory(owner=owner, email="b@example.org", full_name="Bea", comment="=HYPERLINK(1)")
    ClientFactory(owner=owner, email="a@example.org", full_name="Al")
    ClientFactory(email="theirs@example.org")
    response = client.get(reverse("clients:export"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="clients-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["email", "full name", "comment"]
    assert [row[:3] for row in rows[1:]] == [
        ["a@example.org", "Al", ""],
        ["b@example.org", "Bea", "'=HYPERLINK(1)"],
    ]
    assert "theirs@example.org" not in text


def test_an_exported_file_imports_back_unchanged(client, owner):
    ClientFactory(owner=owner, email="round@example.org", full_name="Round Trip", comment="-5 points")
    exported = b"".join(client.get(reverse("clients:export")).streaming_content)
    response = _upload(client, exported)
    assert response.context["report"].skipped == 1  # the same details: nothing to change
    kept = Client.objects.get(owner=owner)
    assert (kept.full_name, kept.comment) == ("Round Trip", "-5 points")


def test_import_and_export_are_refused_to_anonymous_and_managers(client):
    assert client.get(reverse("clients:export")).status_code == 302
    assert client.post(reverse("clients:import"), {}).status_code == 302
    for user in refused_accounts().values():
        client.force_login(user)
        assert_refused_page(client.get(reverse("clients:export")))
        assert_refused_page(client.get(reverse("clients:import")))
        response = _upload(client, b"x@example.org,X\n")
        assert response.status_code == 403
    assert not Client.objects.exists()


@pytest.mark.parametrize("path", ["/clients/", "/messages/", "/mailings/"])
def test_a_nul_character_in_a_search_is_a_form_error_not_a_500(client, path):
    """PostgreSQL refuses NUL in a query and no stored text can contain one: the list's FilterSet refuses
    the search (as the API does), the page says so and lists everything."""
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org")
    client.force_login(owner)
    response = client.get(path, {"q": "ann\x00"})
    assert response.status_code == 200
    assert "Must not contain null characters." in response.content.decode()
    if path == "/clients/":
        assert "ann@example.org" in response.content.decode()


# --- background imports (R-AUD-3) ------------------------------------------------------------------------


@pytest.fixture
def background(settings, tmp_path, monkeypatch):
    """Uploads into a folder of the test's own; any file over 200 bytes goes to the background."""
    settings.MAILER_IMPORT_DIR = tmp_path / "imports"
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 200)


def _big(count: int) -> bytes:
    return b"email;full name;comment;tags\n" + b"".join(
        b"c%d@example.org;Client %d;;news, vip\n" % (n, n) for n in range(count)
    )


def test_a_large_file_goes_to_the_background_with_a_progress_page(client, owner, background):
    response = _upload(client, _big(30) + b"not-an-address;X;;\n", "big.csv")
    job = ClientImport.objects.get(owner=owner)
    status_url = reverse("clients:import-status", args=[job.pk])
    assert response.status_code == 302 and response["Location"] == status_url
    assert not Client.objects.exists()

    html = client.get(status_url).content.decode()
    assert "big.csv" in html and "<progress" in html and "js/import-progress.js" in html
    assert "<script>" not in html  # the CSP: no inline script
    progress = client.get(reverse("clients:import-progress", args=[job.pk])).json()
    assert (progress["status"], progress["finished"], progress["rowsDone"]) == ("queued", False, 0)
    assert "big.csv" in client.get(reverse("clients:import")).content.decode()  # listed on the upload page

    services.client_imports_run()
    progress = client.get(reverse("clients:import-progress", args=[job.pk])).json()
    assert progress == {
        "status": "done",
        "finished": True,
        "rowsDone": 31,
        "rowsTotal": 31,
        "percent": 100,
        "added": 30,
        "updated": 0,
        "skipped": 0,
        "errors": 1,
    }
    html = client.get(status_url).content.decode()
    assert "js/import-progress.js" not in html
    assert 'data-testid="import-rows"' in html and "not-an-address" in html
    report = client.get(reverse("clients:import-report", args=[job.pk]))
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "line,email,result,reason,code" and len(lines) == 32
    assert sorted(Client.objects.get(email="c7@example.org").tags.values_list("name", flat=True)) == [
        "news",
        "vip",
    ]


def test_the_same_file_twice_is_refused_on_the_page(client, owner, background):
    _upload(client, _big(20))
    response = _upload(client, _big(20))
    assert response.status_code == 200
    assert "already being imported" in response.content.decode()


def test_a_failed_background_import_shows_why(client, owner, background):
    _upload(client, _big(20) + b'x@example.org;"open\n')
    services.client_imports_run()
    job = ClientImport.objects.get(owner=owner)
    html = client.get(reverse("clients:import-status", args=[job.pk])).content.decode()
    assert 'data-testid="import-error"' in html and "Line 22" in html
    assert not Client.objects.exists()


def test_another_owners_import_is_404_and_managers_are_refused(client, owner, background):
    _upload(client, _big(20))
    job = ClientImport.objects.get(owner=owner)
    names = ("import-status", "import-progress", "import-report")
    urls = [reverse(f"clients:{name}", args=[job.pk]) for name in names]
    client.force_login(UserFactory())
    for url in urls:
        assert client.get(url).status_code == 404
    for user in refused_accounts().values():
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403


def test_a_windows_1251_file_imports_and_the_report_names_encoding_and_separator_R_OWN_3(client, owner):
    """R-OWN-3: a Russian Excel's CSV (Windows-1251, semicolons) imports with its names intact, and the
    report says how the file was read."""
    content = "email;ФИО\nivan@example.org;Иван Петров\n".encode("cp1251")
    response = _upload(client, content)
    html = response.content.decode()
    assert "read as Windows-1251 text, its columns separated by semicolons" in html
    assert Client.objects.get(owner=owner, email="ivan@example.org").full_name == "Иван Петров"
