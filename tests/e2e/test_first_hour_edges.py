# ruff: noqa: RUF001 - the Cyrillic names are real data, not look-alike letters.
"""The first hour of a new owner, the edges, in a real browser: a long value does not push a table's columns
off screen, a test email's unsubscribe link says it is a test, a second visit to the verification link while
signed in offers the dashboard, an editor finds the CMS, and an import says how it read the file."""

import pytest

from tests.factories import DEFAULT_PASSWORD, ClientFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

from .test_owner_flow import record_errors

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
WIDTH = 1200


def log_in(page, live_server, user) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_a_255_character_name_wraps_and_every_column_stays_on_screen_R_UI_1(live_server, page):
    """R-UI-1, R-UI-5: an unbroken 255-character name, subject or address wraps inside its cell; the clients,
    messages and mailings tables stay within the window, their last column (the actions) visible."""
    owner = UserFactory()
    long = "N" * 255
    ClientFactory(owner=owner, full_name=long, email="a" * 60 + "@example.org")
    ClientFactory(owner=owner, full_name="Short Name")
    message = MessageFactory(owner=owner, subject="S" * 255)
    due_mailing(owner=owner, message=message, clients=1)
    errors = record_errors(page)
    log_in(page, live_server, owner)
    for path in ("/clients/", "/messages/", "/mailings/"):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, path
        table = page.locator("[data-testid=object-table]")
        assert table.bounding_box()["width"] <= WIDTH, path
        for box in page.eval_on_selector_all(
            "[data-testid=object-table] tbody tr td:last-child",
            "cells => cells.map(cell => cell.getBoundingClientRect().right)",
        ):
            assert box <= WIDTH, path
    page.goto(live_server.url + "/clients/")
    cell = page.locator(".cell-text", has_text="NNNN").first
    assert cell.inner_text().replace("\n", "") == long  # all of it shown, wrapped, nothing cut
    assert cell.bounding_box()["height"] > 40  # on several lines
    assert errors == []


def test_the_verification_link_opened_again_while_signed_in_offers_the_dashboard_R_AUTH_2(live_server, page):
    """R-AUTH-2, R-AUTH-3: following the confirmation link a second time, signed in, says the address is
    verified and leads to the dashboard, not to "Log in"; signed out it still offers the log-in page."""
    from backend.accounts.tokens import make_verification_token

    owner = UserFactory()
    link = f"{live_server.url}/accounts/verify/{make_verification_token(owner)}/"
    log_in(page, live_server, owner)
    page.goto(link)
    main = page.locator("main")
    assert f"{owner.email} is verified, and you are signed in." in main.inner_text()
    assert main.get_by_role("link", name="Log in").count() == 0
    main.get_by_role("link", name="Go to your dashboard").click()
    page.wait_for_url(live_server.url + "/dashboard/")
    page.context.clear_cookies()
    page.goto(link)
    assert page.locator("main").get_by_role("link", name="Log in").count() == 1


# Wraps the catalogue's npgettext (set by /jsi18n/ on window) to record what the page asks it.
RECORD_NPGETTEXT = """
window.__npgettext = [];
Object.defineProperty(window, "npgettext", {
  configurable: true,
  set(fn) { this.__npgettextReal = fn; },
  get() {
    const real = this.__npgettextReal;
    return real && ((context, singular, plural, count) => {
      window.__npgettext.push([context, singular, count]);
      return real(context, singular, plural, count);
    });
  },
});
"""


def test_the_manager_dashboards_counts_ask_the_catalogue_for_plural_forms_with_a_context_R_UI_8(
    live_server, page
):
    """R-UI-8: the mailings-by-status and users-by-state counts go through npgettext with a context ("mailings
    by status", the owner dashboard's own; "users by state"), so each language's plural form agrees with the
    number, and the page shows the counts."""
    from .test_manager_dashboard import make_managers_member

    manager = make_managers_member()
    owner = UserFactory()
    for _ in range(5):
        due_mailing(owner=owner, clients=0, status="completed")
    page.add_init_script(RECORD_NPGETTEXT)
    errors = record_errors(page)
    log_in(page, live_server, manager)
    page.goto(live_server.url + "/manager/")
    page.wait_for_selector("[data-testid=mailings-by-status]")
    calls = page.evaluate("window.__npgettext")
    assert ["mailings by status", "%(count)s completed", 5] in calls
    assert ["users by state", "%(count)s confirmed", 2] in calls
    assert ["users by state", "%(count)s blocked", 0] in calls
    assert "5 completed" in page.locator("[data-testid=mailings-by-status]").inner_text()
    assert errors == []


def test_a_russian_excel_csv_imports_in_the_browser_and_the_report_says_how_it_was_read_R_OWN_3(
    live_server, page, tmp_path
):
    """R-OWN-3: a CSV saved by a Russian Excel (Windows-1251, semicolons) and Excel's "Unicode text" (UTF-16,
    tabs) import with their Cyrillic names intact; the report page names the encoding and separator."""
    from backend.mailings.models import Client

    owner = UserFactory()
    log_in(page, live_server, owner)
    files = (
        (
            "excel.csv",
            "email;ФИО\nivan@example.org;Иван Петров\n".encode("cp1251"),
            "Windows-1251",
            "semicolons",
        ),
        ("unicode.txt", "email\tФИО\nolga@example.org\tОльга\n".encode("utf-16"), "UTF-16", "tabs"),
    )
    for name, content, encoding, separator in files:
        (tmp_path / name).write_bytes(content)
        page.goto(live_server.url + "/clients/import/")
        page.set_input_files("#id_file", str(tmp_path / name))
        page.click("main button[type=submit]")
        said = page.get_by_test_id("import-format").inner_text()
        assert f"read as {encoding} text, its columns separated by {separator}" in said
    names = dict(Client.objects.filter(owner=owner).values_list("email", "full_name"))
    assert names == {"ivan@example.org": "Иван Петров", "olga@example.org": "Ольга"}
