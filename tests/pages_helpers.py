"""Shared steps of the owner-page tests: the accounts that must be refused, and query counting."""

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory, make_manager


def make_content_editor():
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Content editors"))
    return type(user).objects.get(pk=user.pk)


def refused_accounts():
    """Signed-in accounts that have no owner pages (R-AUTH-5, R-AUTH-6)."""
    return {"manager": make_manager(), "content editor": make_content_editor()}


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def assert_refused_page(response) -> None:
    """A 403 in the site's own layout, with no owner data in it."""
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="navbar' in html
    assert "Not allowed" in html
