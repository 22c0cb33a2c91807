# ruff: noqa: RUF001 - the Cyrillic letters are the point of these tests.
"""Search ignores letter case in every alphabet, on SQLite as on PostgreSQL (R-UI-3)."""

import pytest

from backend.db import unicode_like
from backend.mailings.models import Client
from tests.api.helpers import data_of
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["козлов", "КОЗЛОВ", "Козлов", "козл", "ALICE", "alice"])
def test_icontains_finds_cyrillic_and_latin_names_in_any_case(query):
    owner = UserFactory()
    ClientFactory(owner=owner, full_name="Иван Козлов", email="ivan@example.org")
    ClientFactory(owner=owner, full_name="Alice Smith", email="alice@example.org")
    found = Client.objects.filter(owner=owner, full_name__icontains=query).values_list("email", flat=True)
    expected = "alice@example.org" if query.lower() == "alice" else "ivan@example.org"
    assert list(found) == [expected]


def test_the_pages_and_the_api_find_the_same_cyrillic_client(client):
    owner = UserFactory()
    ClientFactory(owner=owner, full_name="Анна Петрова", email="anna@example.org")
    ClientFactory(owner=owner, full_name="Жанна Попова", email="zhanna@example.org")
    client.force_login(owner)
    page = client.get("/clients/", {"q": "анна"}).content.decode()
    assert "anna@example.org" in page and "zhanna@example.org" in page
    page = client.get("/clients/", {"q": "АННА ПЕТ"}).content.decode()
    assert "anna@example.org" in page and "zhanna@example.org" not in page
    data = data_of('{ clients(first: 10, search: "анна пет") { edges { node { email } } } }', user=owner)
    assert [edge["node"]["email"] for edge in data["clients"]["edges"]] == ["anna@example.org"]


def test_like_keeps_wildcards_and_escapes_as_sqlite_defines_them():
    assert unicode_like("%а_на%", "Жанна") is True
    assert unicode_like(r"%50\%%", "скидка 50% всем", "\\") is True
    assert unicode_like(r"%50\%%", "скидка 50 всем", "\\") is False
    assert unicode_like("%x%", None) is None
