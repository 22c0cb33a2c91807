"""The manager dashboard's page (R-AUTH-5, R-UI-8): who may open /manager/, the navbar link, and
that the page is only a frame whose data comes from /graphql/ with its own operation files — which answer a
manager and refuse the others exactly as the page's buttons assume (blocking oneself or a superuser)."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from backend.accounts.models import User
from backend.web.pages.manager import OPERATIONS
from tests.api.helpers import error_codes
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page, make_content_editor

pytestmark = pytest.mark.django_db

URL = "/manager/"
OPERATIONS_DIR = Path(settings.BASE_DIR) / "graphql" / "operations"
STATIC_JS = Path(settings.BASE_DIR) / "static" / "js"


def make_managers_member(**kwargs) -> User:
    """A manager as the roles migration's Managers group makes one: mailings and users (R-AUTH-5)."""
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def make_superuser(**kwargs) -> User:
    return UserFactory(is_superuser=True, is_staff=True, **kwargs)


def signed_in(user: User) -> Client:
    """A browser's session: CSRF checked, so `send` must carry the header the page sends."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def operation_text(name: str) -> str:
    return (OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")


def send(client: Client, name: str, variables: dict | None = None) -> dict:
    """Send one of the page's operation files the way manager.js does: the session's cookie and CSRF
    header (the test Client checks CSRF like a browser when asked to)."""
    client.get(URL)  # sets the CSRF cookie, as the page load does
    response = client.post(
        "/graphql/",
        json.dumps({"query": operation_text(name), "variables": variables or {}}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    # graphene answers 400 when no field could be resolved (a refused root field): still GraphQL's JSON.
    assert response.status_code in (200, 400), response.content[:300]
    return response.json()


# --- who may open the page -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Managers group", "superuser"])
def test_managers_and_superusers_open_the_dashboard_with_both_tabs_R_UI_8(role):
    user = make_managers_member() if role == "Managers group" else make_superuser()
    response = signed_in(user).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="manager-dashboard"' in html
    assert 'id="mailings-tab"' in html and 'id="users-tab"' in html
    assert 'data-testid="stats"' in html


def test_a_mailings_only_manager_gets_no_users_tab_R_AUTH_5():
    """Given only the mailings permissions (no `view_all_users`), the page offers what the API answers them:
    mailings and totals, not the user list."""
    response = signed_in(make_manager()).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="mailings-tab"' in html
    assert 'id="users-tab"' not in html and 'data-section="users"' not in html


@pytest.mark.parametrize("role", ["owner", "content editor"])
def test_owners_and_content_editors_get_403_in_the_sites_layout_R_AUTH_5(role):
    user = UserFactory() if role == "owner" else make_content_editor()
    response = signed_in(user).get(URL)
    assert_refused_page(response)
    html = response.content.decode()
    assert "This page is for the service&#x27;s managers." in html
    assert "manager.js" not in html and "graphql-operation-" not in html


def way_out(response) -> tuple[str, str]:
    """The 403 page's button: its address and words."""
    found = re.search(
        r'<a [^>]*href="([^"]+)" data-testid="refusal-way-out">([^<]+)</a>', response.content.decode()
    )
    assert found, response.content.decode()[:500]
    return found.group(1), found.group(2)


@pytest.mark.parametrize("path", ["/clients/", "/messages/", "/mailings/", "/dashboard/"])
def test_a_manager_refused_an_owner_page_is_offered_the_dashboard_R_AUTH_5(path):
    response = signed_in(make_managers_member()).get(path)
    assert_refused_page(response)
    assert way_out(response) == (URL, "Go to the manager dashboard")


def test_those_who_may_not_enter_the_dashboard_are_offered_the_home_page():
    assert way_out(signed_in(UserFactory()).get(URL)) == ("/", "Go to the home page")
    assert way_out(signed_in(make_content_editor()).get("/clients/")) == ("/", "Go to the home page")


def test_anonymous_visitors_go_to_the_login_page():
    response = Client().get(URL)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={URL}"


def test_a_blocked_manager_is_signed_out_and_sent_to_log_in_R_AUTH_5():
    manager = make_managers_member()
    client = signed_in(manager)
    User.objects.filter(pk=manager.pk).update(is_blocked=True)
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_navbar_offers_manager_to_those_who_may_enter():
    link = f'href="{URL}"'
    assert link in signed_in(make_managers_member()).get(reverse("web:home")).content.decode()
    assert link in signed_in(make_superuser()).get(reverse("web:home")).content.decode()
    assert link in signed_in(make_manager()).get(reverse("web:home")).content.decode()
    assert link not in signed_in(UserFactory()).get(reverse("web:home")).content.decode()
    assert link not in signed_in(make_content_editor()).get(reverse("web:home")).content.decode()
    assert link not in Client().get(reverse("web:home")).content.decode()


# --- the page is a frame over /graphql/ ------------------------------------------------------------------


def test_the_page_renders_no_data_and_carries_only_its_operations_R_UI_8():
    """No second data path: nothing of the service's data is in the HTML (no server-rendered rows, no
    totals), the only operations embedded are the manager*.graphql files, and the page's scripts send them to
    /graphql/ alone."""
    owner = UserFactory(email="quince.owner@example.net", first_name="Quentin", last_name="Quince")
    message = MessageFactory(owner=owner, subject="Quarterly quince digest", body="Secret body text")
    MailingFactory(
        owner=owner, message=message, clients=[ClientFactory(owner=owner, email="reader@example.org")]
    )
    html = signed_in(make_managers_member()).get(URL).content.decode()

    for data in (
        "quince.owner@example.net",
        "Quince",
        "Quarterly quince digest",
        "Secret body text",
        "reader@",
    ):
        assert data not in html
    assert re.search(r"<tbody data-rows>\s*</tbody>", html)
    assert html.count("<tbody data-rows>") == 3  # mailings, users, and the senders that need a review
    assert "<td" not in html

    embedded = set(re.findall(r'id="graphql-operation-(\w+)"', html))
    files = {path.stem for path in OPERATIONS_DIR.glob("manager*.graphql")}
    assert embedded == set(OPERATIONS) == files
    for name in embedded:
        # What the page embeds is the file, byte for byte (json_script escapes <, > and &).
        script = re.search(
            rf'id="graphql-operation-{name}" type="application/json">(.*?)</script>', html, re.S
        )
        assert json.loads(script.group(1)) == operation_text(name)

    module = (STATIC_JS / "manager.js").read_text(encoding="utf-8")
    assert 'from "./graphql.js"' in module
    assert "fetch(" not in module and "XMLHttpRequest" not in module and "/api/" not in module
    assert 'DEFAULT_ENDPOINT = "/graphql/"' in (STATIC_JS / "graphql.js").read_text(encoding="utf-8")


def test_the_javascript_catalog_loads_before_the_module_and_the_viewers_zone_is_passed_R_UI_8():
    manager = make_managers_member(time_zone="Asia/Tokyo")
    html = signed_in(manager).get(URL).content.decode()
    catalog = html.index(f'<script src="{reverse("javascript-catalog")}"></script>')
    chart = html.index("vendor/chartjs/chart.umd.min.js")
    module = html.index('<script type="module" src="/static/js/manager.js">')
    assert catalog < module and chart < module
    assert 'data-time-zone="Asia/Tokyo"' in html
    assert '<meta name="csrf-token"' in html
    catalog_js = Client().get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="ru")
    assert catalog_js.status_code == 200
    assert "django.gettext" in catalog_js.content.decode() or "gettext" in catalog_js.content.decode()


def test_the_page_renders_in_russian():
    client = signed_in(make_managers_member())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    response = client.get(URL)
    assert response.status_code == 200
    assert '<html lang="ru">' in response.content.decode()


# --- the page's operation files against /graphql/, as the page sends them ---------------------------------


def test_the_pages_initial_operations_answer_a_manager_R_UI_8():
    owner = UserFactory(email="ann@shop.example")
    mailing = MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="Spring sale"))
    client = signed_in(make_managers_member())

    stats = send(client, "managerStats")
    assert "errors" not in stats
    assert stats["data"]["serviceStats"]["mailings"] == 1
    assert len(stats["data"]["serviceStats"]["perDay"]) == 30

    mailings = send(client, "managerMailings", {"ownerSearch": "shop.example"})
    assert "errors" not in mailings
    (edge,) = mailings["data"]["allMailings"]["edges"]
    assert edge["node"]["message"] == {"subject": "Spring sale"}
    assert edge["node"]["owner"]["email"] == "ann@shop.example"
    assert edge["node"]["isActive"] is mailing.is_active is True

    users = send(client, "managerUsers", {"search": "ann@shop"})
    assert "errors" not in users
    assert [edge["node"]["email"] for edge in users["data"]["users"]["edges"]] == ["ann@shop.example"]
    assert users["data"]["users"]["edges"][0]["node"]["mailingsCount"] == 1


def test_an_owner_sending_the_pages_operations_gets_no_manager_data_R_AUTH_5():
    owner = UserFactory()
    own = MailingFactory(owner=owner)
    MailingFactory()  # someone else's
    client = signed_in(owner)
    assert error_codes(send(client, "managerStats")) == ["FORBIDDEN"]
    assert error_codes(send(client, "managerUsers")) == ["FORBIDDEN"]
    mailings = send(client, "managerMailings")
    assert [edge["node"]["id"] for edge in mailings["data"]["allMailings"]["edges"]] == [
        _gid("Mailing", own.pk)
    ]
    body = send(client, "managerDisableMailing", {"id": _gid("Mailing", own.pk)})
    assert error_codes(body) == ["FORBIDDEN"]
    own.refresh_from_db()
    assert own.is_active


@pytest.mark.parametrize("target", ["themselves", "a superuser"])
def test_the_api_refuses_what_the_page_offers_no_button_for_R_AUTH_5(target):
    """The page hides Block for the viewer's own row and for superusers; sending the operation anyway is
    refused by the API, and nothing changes."""
    manager = make_managers_member()
    victim = manager if target == "themselves" else make_superuser()
    client = signed_in(manager)
    body = send(client, "managerBlockUser", {"id": _gid("ManagedUser", victim.pk), "reason": "testing"})
    assert error_codes(body) == ["FORBIDDEN"]
    victim.refresh_from_db()
    assert not victim.is_blocked


def test_block_and_unblock_through_the_pages_operations_R_AUTH_5():
    manager = make_managers_member()
    owner = UserFactory()
    client = signed_in(manager)
    gid = _gid("ManagedUser", owner.pk)

    empty = send(client, "managerBlockUser", {"id": gid, "reason": "   "})["data"]["blockUser"]
    assert [(error["field"], error["code"]) for error in empty["errors"]] == [("reason", "required")]
    owner.refresh_from_db()
    assert not owner.is_blocked

    blocked = send(client, "managerBlockUser", {"id": gid, "reason": "Spam complaints"})["data"]["blockUser"]
    assert blocked["errors"] == []
    assert blocked["user"]["isBlocked"] is True
    assert blocked["user"]["blockedReason"] == "Spam complaints"
    assert blocked["user"]["blockedBy"]["email"] == manager.email

    unblocked = send(client, "managerUnblockUser", {"id": gid})["data"]["unblockUser"]
    assert unblocked["errors"] == [] and unblocked["user"]["isBlocked"] is False
    owner.refresh_from_db()
    assert not owner.is_blocked


def test_disable_and_enable_through_the_pages_operations_R_AUTH_5_R_SEND_8():
    mailing = MailingFactory()
    client = signed_in(make_managers_member())
    gid = _gid("Mailing", mailing.pk)
    disabled = send(client, "managerDisableMailing", {"id": gid})["data"]["disableMailing"]
    assert disabled["errors"] == [] and disabled["mailing"]["isActive"] is False
    assert disabled["mailing"]["disabledAt"]
    mailing.refresh_from_db()
    assert not mailing.is_active
    enabled = send(client, "managerEnableMailing", {"id": gid})["data"]["enableMailing"]
    assert enabled["errors"] == [] and enabled["mailing"]["isActive"] is True
    mailing.refresh_from_db()
    assert mailing.is_active


def test_without_the_csrf_header_the_session_cannot_send_a_mutation():
    mailing = MailingFactory()
    client = signed_in(make_managers_member())
    client.get(URL)
    response = client.post(
        "/graphql/",
        json.dumps(
            {
                "query": operation_text("managerDisableMailing"),
                "variables": {"id": _gid("Mailing", mailing.pk)},
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 403
    mailing.refresh_from_db()
    assert mailing.is_active


def _gid(type_name: str, pk: int) -> str:
    from graphql_relay import to_global_id

    return to_global_id(type_name, pk)


def test_the_dashboard_shows_statuses_in_the_owner_pages_words_and_colours_R_UI_8():
    """manager.js reads a mailing's status label and badge, and its periodicity, from the page: the server
    writes them once (the owner pages' badges), in the viewer's language, keyed by the API's enum names."""
    manager = make_managers_member()
    html = signed_in(manager).get(URL, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    script = re.search(r'id="mailing-choices" type="application/json">(.*?)</script>', html, re.S)
    choices = json.loads(script.group(1))
    assert choices["statuses"] == {
        "CREATED": {"label": "создана", "badge": "text-bg-secondary"},
        "STARTED": {"label": "запущена", "badge": "text-bg-primary"},
        "COMPLETED": {"label": "завершена", "badge": "text-bg-success"},
    }
    assert choices["periodicities"]["WEEKLY"] == "еженедельно"
    owner_page = MailingFactory(owner=UserFactory(), status="started")
    owner = signed_in(owner_page.owner).get(reverse("mailings:list"), HTTP_ACCEPT_LANGUAGE="ru")
    assert (
        '<span class="badge text-bg-primary" data-status="started">запущена</span>' in owner.content.decode()
    )
    module = (STATIC_JS / "manager.js").read_text(encoding="utf-8")
    # The status words come from the page, not the script's catalogue (its counts' plurals do: npgettext).
    assert 'getElementById("mailing-choices")' in module and not re.search(r"(?<!n)pgettext\(", module)
