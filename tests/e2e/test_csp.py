"""Every page type in a real browser under the Content-Security-Policy and Permissions-Policy (Hardening:
a strict CSP on every response, GraphiQL and the admins working under theirs): no violation is reported,
nothing is logged as an error, and each page's JavaScript still does its job — the auto-submitting
selects (language, mailing filters, preview client) whose inline handlers moved to a module, the live
progress bar, the report chart, the manager dashboard, GraphiQL and both admins."""

import pytest

from backend.mailings.models import Mailing
from tests.blog_helpers import publish_article
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

from .test_manager_dashboard import make_managers_member
from .test_owner_flow import scheduler_pass_in_background
from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

# Registered before any of the page's own scripts run, in every document the page opens.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const what = event.blockedURI || "inline";
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${what} at ${where}`);
}, true);
"""


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def watched(page):
    """The page with every console error (a refused inline script or style is one, in frames too) and every
    uncaught exception kept in `page.problems`, and violation events kept on its window."""
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.add_init_script(RECORD_VIOLATIONS)
    return page


@pytest.fixture
def csp_page(page):
    return watched(page)


def visit(page, url: str):
    response = page.goto(url)
    assert response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    assert "camera=()" in response.headers["permissions-policy"], url
    page.wait_for_load_state("networkidle")
    return response


def assert_no_violation(page) -> None:
    """Nothing refused on the page now shown, nor logged on any page since the last check."""
    assert page.evaluate("window.__cspViolations") == [], page.url
    assert page.problems == [], page.url
    page.problems.clear()


def log_in(page, base: str, email: str) -> None:
    visit(page, base + "/accounts/login/")
    assert_no_violation(page)
    page.fill("#id_username", email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_public_pages_and_the_language_switch_run_under_the_policy(live_server, csp_page):
    """Home, blog index and article, login and sign-up; the footer's language select (its handler now in
    static/js/auto-submit.js) still switches the language."""
    page, base = csp_page, live_server.url
    article = publish_article("Policies for mailers")
    visit(page, base + "/")
    assert page.locator("[data-testid=articles] .card").count() == 1
    assert_no_violation(page)
    # Bootstrap's script still runs: the collapsed navigation opens at phone width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.click(".navbar-toggler")
    page.wait_for_selector("#mainNav.show")
    page.set_viewport_size({"width": 1200, "height": 900})
    assert_no_violation(page)

    page.select_option("footer select[name=language]", "ru")
    page.wait_for_selector("html[lang=ru]")
    assert "Войти" in page.inner_text("nav")
    assert_no_violation(page)
    page.select_option("footer select[name=language]", "en")
    page.wait_for_selector("html[lang=en]")
    assert_no_violation(page)

    for path in ("/blog/", article.url, "/accounts/login/", "/accounts/signup/"):
        visit(page, base + path)
        assert_no_violation(page)
    visit(page, base + article.url)
    assert page.inner_text("h1") == "Policies for mailers"
    assert_no_violation(page)


def test_owner_pages_graphiql_and_their_scripts_run_under_the_policy(live_server, csp_page, smtp):
    """Dashboard, clients and the client form, messages and the preview (its client select submits; the
    previewed mail keeps its inline styles inside its frame), the mailings list (its filter submits), the
    mailing page's live progress, the report's chart, and GraphiQL running a query."""
    page, base = csp_page, live_server.url
    owner = UserFactory(email="csp.owner@example.com")
    message = MessageFactory(
        owner=owner, subject="Hello {first_name}", html_body='<p style="color: rgb(255, 0, 0)">Hi</p>'
    )
    first = ClientFactory(owner=owner, full_name="Anna Alpha", email="anna@example.org")
    second = ClientFactory(owner=owner, full_name="Boris Beta", email="boris@example.org")
    mailing = due_mailing(owner=owner, message=message, clients=0)
    mailing.clients.add(first, second)
    log_in(page, base, owner.email)

    for path in (
        "/dashboard/",
        "/clients/",
        "/clients/new/",
        "/tags/",
        "/tags/new/",
        "/messages/",
        "/reports/",
    ):
        visit(page, base + path)
        assert_no_violation(page)

    # The preview: choosing another client in the select shows the message as sent to them.
    visit(page, f"{base}/messages/{message.pk}/preview/")
    assert page.inner_text("[data-testid=preview-to]").startswith("Anna Alpha")
    frame_text = page.frame_locator("[data-testid=preview-html]").locator("p").first
    assert frame_text.evaluate("p => getComputedStyle(p).color") == "rgb(255, 0, 0)"
    assert_no_violation(page)
    page.select_option("#id_client", str(second.pk))
    page.wait_for_url(lambda url: f"client={second.pk}" in url)
    assert page.inner_text("[data-testid=preview-to]").startswith("Boris Beta")
    assert_no_violation(page)

    # The mailings list: the status filter submits as soon as it changes.
    visit(page, base + "/mailings/")
    page.select_option("#id_status", Mailing.Status.COMPLETED)
    page.wait_for_url(lambda url: "status=completed" in url)
    assert page.locator("[data-testid=no-match]").is_visible()
    assert_no_violation(page)

    # The mailing form: the audience's parts follow the radio, the clients picker searches through /graphql/.
    visit(page, f"{base}/mailings/{mailing.pk}/edit/")
    assert page.locator("[data-testid=audience-tags]").is_hidden()
    page.fill("[data-picker-search]", "boris")
    wait_until(page, "document.querySelectorAll('[data-picker-results] [data-result]').length === 1")
    page.check("#audience-tags")
    assert page.locator("[data-testid=client-picker]").is_hidden()
    assert_no_violation(page)

    # The mailing page: the bar takes its widths from the page, then follows the send through /graphql/.
    visit(page, f"{base}/mailings/{mailing.pk}/")
    assert page.get_attribute("[data-testid=progress]", "data-state") == "waiting"
    scheduler = scheduler_pass_in_background()
    page.wait_for_selector("[data-testid=progress][data-state=done]", timeout=30_000)
    scheduler.join(timeout=30)
    assert page.inner_text("[data-progress-count=sent]") == "2"
    assert page.evaluate("document.querySelector('[data-progress-part=sent]').style.width") == "100%"
    visit(page, f"{base}/mailings/{mailing.pk}/")
    assert page.evaluate("document.querySelector('[data-progress-part=sent]').style.width") == "100%"
    assert page.locator("[data-progress-part=sent]").bounding_box()["width"] > 100
    assert_no_violation(page)

    # The report's chart is drawn from /graphql/.
    visit(page, f"{base}/mailings/{mailing.pk}/report/")
    page.wait_for_selector("[data-testid=chart][data-state=ready]")
    datasets = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=chart] canvas'))"
        ".data.datasets.map(d => [d.label, d.data])"
    )
    assert ["Sent", [2]] in datasets
    assert_no_violation(page)

    # GraphiQL runs a query over the session.
    visit(page, base + "/graphql/")
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")
    page.evaluate(
        "query => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query)",
        "{ me { email } }",
    )
    page.click(".graphiql-execute-button")
    result = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    wait_until(page, f"{result}.includes('csp.owner@example.com')")
    assert_no_violation(page)


def test_manager_dashboard_and_both_admins_run_under_their_policies(live_server, browser, csp_page):
    """The manager dashboard fills its sections; Django's admin and Wagtail's admin log in and show their
    dashboards, and Wagtail's page editor opens its preview panel (a frame of /cms/)."""
    page, base = csp_page, live_server.url
    owner = UserFactory()
    due_mailing(owner=owner, clients=1)
    manager = make_managers_member()
    log_in(page, base, manager.email)
    visit(page, base + "/manager/")
    for section in ("stats", "review", "mailings", "users"):
        page.wait_for_selector(f"[data-section={section}][data-state=ready]", state="attached")
    assert page.locator("[data-section=users] [data-rows] tr").count() >= 1
    assert_no_violation(page)

    root = UserFactory(is_superuser=True, is_staff=True)
    article = publish_article("Edited under a policy")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    admin = watched(context.new_page())
    admin.set_default_timeout(15_000)
    try:
        visit(admin, base + "/admin/login/")
        assert_no_violation(admin)
        admin.fill("#id_username", root.email)
        admin.fill("#id_password", DEFAULT_PASSWORD)
        admin.click("input[type=submit]")
        admin.wait_for_url(base + "/admin/")
        visit(admin, base + "/admin/accounts/user/")
        assert_no_violation(admin)

        admin.context.clear_cookies()
        visit(admin, base + "/cms/login/")
        assert_no_violation(admin)
        admin.fill("#id_username", root.email)
        admin.fill("#id_password", DEFAULT_PASSWORD)
        admin.click("button[type=submit]")
        admin.wait_for_url(base + "/cms/")
        admin.wait_for_load_state("networkidle")
        assert_no_violation(admin)
        visit(admin, f"{base}/cms/pages/{article.pk}/edit/")
        admin.click("[data-side-panel-toggle=preview]")
        preview = admin.frame_locator("iframe[src*='/edit/preview/']")
        assert preview.locator("h1").inner_text() == "Edited under a policy"
        assert_no_violation(admin)
    finally:
        context.close()
