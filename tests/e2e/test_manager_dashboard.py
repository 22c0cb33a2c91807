"""The manager dashboard in a real browser (R-AUTH-5, R-UI-8, R-SEND-8): a manager signs in and
lands on /manager/, whose totals, 30-day chart and lists come from /graphql/; searches a user and blocks them
with a reason (that user's open session ends on its next request); disables a mailing (the scheduler's pass
then sends nothing for it) and enables it again; no Block button where the API would refuse, and the API
refuses anyway; an owner gets 403; failed requests show a retry message; the page fits a phone.
"""

import datetime as dt
from importlib import import_module

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from backend.mailings.sending import send_due
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MailingFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

from .waiting import wait_until

# serialized_rollback: the migrations' data (the Managers group, Wagtail's tree) survive the flushes.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

# Attempts written into the last 30 days for the chart: (days ago, accepted, failed).
HISTORY = ((0, 3, 1), (1, 5, 0), (2, 4, 2), (6, 7, 1), (13, 2, 3), (27, 6, 0))


def record_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def log_in(page, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def make_managers_member(**kwargs) -> User:
    """A manager with exactly the Managers role's permissions (the roles migration's list). The group row
    itself is not used: after another transactional test's flush it is back only if serialized rollback
    restored it, which depends on what else ran in the session."""
    user = UserFactory(**kwargs)
    codes = import_module("backend.accounts.migrations.0003_roles").ROLES["Managers"]
    wanted = Q()
    for app_label, codename in codes:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    user.user_permissions.set(Permission.objects.filter(wanted))
    assert user.user_permissions.count() == len(codes)
    return user


def history(owner: User) -> Mailing:
    """A completed daily mailing with a send on each day of HISTORY, written as the engine leaves it: one
    delivery per client and occurrence, each with its one attempt."""
    now = timezone.now()
    clients = [ClientFactory(owner=owner) for _ in range(10)]
    mailing = MailingFactory(
        owner=owner,
        message=MessageFactory(owner=owner, subject="Daily orchard report"),
        periodicity="daily",
        status="completed",
        start_at=now - dt.timedelta(days=28),
        end_at=now - dt.timedelta(minutes=5),
        clients=clients,
    )
    for days, sent, failed in HISTORY:
        when = now - dt.timedelta(days=days, minutes=10)
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=when, finished_at=when)
        for index, client in enumerate(clients[: sent + failed]):
            ok = index < sent
            delivery = Delivery.objects.create(
                mailing=mailing,
                occurrence=occurrence,
                client=client,
                email=client.email,
                status="sent" if ok else "failed",
                attempts=1,
                last_attempt_at=when,
            )
            DeliveryAttempt.objects.create(
                delivery=delivery,
                attempted_at=when,
                outcome="sent" if ok else "permanent",
                smtp_code=250 if ok else 550,
                response="250 OK" if ok else "550 User unknown",
            )
    return mailing


def rows(page, section: str):
    return page.locator(f"[data-section={section}] [data-rows] tr")


def wait_focus(page, control: str, row_id: str) -> None:
    """Keyboard focus is on `control` (a data-testid or data-action) of the row `row_id`, not on <body>."""
    wait_until(
        page,
        """([control, rowId]) => {
            const element = document.activeElement;
            const row = element.closest('tr[data-id]');
            const kind = element.dataset.testid || element.dataset.action;
            return kind === control && row && row.dataset.id === rowId;
        }""",
        arg=[control, row_id],
    )


def wait_ready(page, section: str) -> None:
    # An inactive tab's section is hidden, so wait for the state, not for visibility.
    page.wait_for_selector(f"[data-section={section}][data-state=ready]", state="attached")


def test_manager_blocks_a_user_disables_and_enables_a_mailing_R_AUTH_5_R_UI_8_R_SEND_8(
    live_server, browser, page, smtp
):
    base = live_server.url
    manager = make_managers_member(email="mia.manager@example.com", first_name="Mia", last_name="Manager")
    root = UserFactory(email="root@example.com", is_superuser=True, is_staff=True)
    olga = UserFactory(email="olga.orchard@example.com", first_name="Olga", last_name="Orchard")
    boris = UserFactory(email="boris.spammer@example.com", first_name="Boris", last_name="Spammer")
    history(olga)
    due = due_mailing(owner=olga, clients=2, message=MessageFactory(owner=olga, subject="Harvest news"))
    errors = record_errors(page)

    # Boris is signed in in his own browser.
    boris_context = browser.new_context()
    boris_page = boris_context.new_page()
    boris_page.set_default_timeout(15_000)
    log_in(boris_page, base, boris.email)
    assert boris_page.url.endswith("/dashboard/")

    # The manager signs in and lands on the dashboard; the navbar offers it.
    fetched: list[str] = []
    page.on("request", lambda r: r.resource_type in ("fetch", "xhr") and fetched.append(r.url))
    log_in(page, base, manager.email)
    assert page.url == base + "/manager/"
    assert page.locator("nav a[href='/manager/']").inner_text() == "Manager"
    for section in ("stats", "review", "mailings", "users"):
        wait_ready(page, section)
    assert len(fetched) == 4 and set(fetched) == {base + "/graphql/"}  # the one data path

    # Totals and the 30-day chart, drawn from serviceStats.
    assert page.inner_text("[data-stat=users]") == str(User.objects.count())
    assert page.inner_text("[data-stat=mailings]") == "2"
    sent_today, failed_today = HISTORY[0][1], HISTORY[0][2]
    assert page.inner_text("[data-stat=sent-today]") == str(sent_today)
    assert page.inner_text("[data-stat=failed-today]") == str(failed_today)
    # The totals say what they count: started and enabled mailings, failed attempts (not recipients).
    totals = page.inner_text("[data-testid=totals]")
    assert "mailings running\nstarted and not disabled" in totals
    assert "failed attempt today" in totals
    chart = page.evaluate(
        """() => {
            const canvas = document.querySelector('[data-testid=chart] canvas');
            const chart = Chart.getChart(canvas);
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            return {
                labels: chart.data.labels.length,
                sent: chart.data.datasets[0].data.reduce((a, b) => a + b, 0),
                failed: chart.data.datasets[1].data.reduce((a, b) => a + b, 0),
                painted: pixels.some((value, index) => index % 4 === 3 && value > 0),
            };
        }"""
    )
    assert chart == {
        "labels": 30,
        "sent": sum(sent for _, sent, _ in HISTORY),
        "failed": sum(failed for _, _, failed in HISTORY),
        "painted": True,
    }

    # Users: no Block button on the manager's own row nor on the superuser's.
    page.click("#users-tab")
    own_row = page.locator(f"[data-testid=user-row][data-email='{manager.email}']")
    root_row = page.locator(f"[data-testid=user-row][data-email='{root.email}']")
    assert own_row.count() == 1 and root_row.count() == 1
    assert own_row.locator("[data-action]").count() == 0
    assert root_row.locator("[data-action]").count() == 0
    # ...and the API refuses anyway: the page's own operation, sent from the page for the superuser's row.
    refused = page.evaluate(
        """async (id) => {
            const { operation, request } = await import('/static/js/graphql.js');
            try {
                await request(operation('managerBlockUser'), { id, reason: 'trying anyway' });
                return 'accepted';
            } catch (error) {
                return error.codes.join(',');
            }
        }""",
        root_row.get_attribute("data-id"),
    )
    assert refused == "FORBIDDEN"
    assert not User.objects.get(pk=root.pk).is_blocked

    # Search a user, block them: the reason is required (the API's form says so, at the field).
    with page.expect_response("**/graphql/"):
        page.fill("#users-search", "spammer")
    wait_until(page, "document.querySelectorAll('[data-section=users] [data-rows] tr').length === 1")
    row = rows(page, "users").first
    assert row.get_attribute("data-email") == boris.email
    row.locator("[data-action=block]").click()
    modal = page.locator("#block-modal")
    modal.wait_for(state="visible")
    assert "Boris Spammer" in modal.inner_text()
    assert "the service's managers and superusers see it" in modal.inner_text()  # not Boris's own managers
    modal.locator("[data-block-submit]").click()
    page.wait_for_selector("#block-reason.is-invalid")
    assert "required" in modal.locator("[data-block-error]").inner_text()
    assert not User.objects.get(pk=boris.pk).is_blocked
    modal.locator("#block-reason").fill("Spam complaints from three clients")
    modal.locator("[data-block-submit]").click()
    modal.wait_for(state="hidden")
    row = rows(page, "users").first
    row.locator("[data-action=unblock]").wait_for()
    wait_focus(page, "unblock", row.get_attribute("data-id"))  # the re-rendered row's button
    assert "Spam complaints from three clients" in row.locator("[data-testid=blocked-reason]").inner_text()
    assert "by Mia Manager" in row.inner_text()
    wait_until(page, "document.querySelector('[data-stat=blocked]').textContent.startsWith('1 ')")
    boris.refresh_from_db()
    assert boris.is_blocked and boris.blocked_by_id == manager.pk
    assert boris.blocked_reason == "Spam complaints from three clients"

    # Boris's open session ends on his next request.
    boris_page.goto(base + "/dashboard/")
    assert "/accounts/login/" in boris_page.url
    assert "Your account is blocked" in boris_page.inner_text("main")
    boris_context.close()

    # Mailings: find Olga's due mailing by its owner, disable it with a confirmation.
    page.click("#mailings-tab")
    with page.expect_response("**/graphql/"):
        page.fill("#mailings-owner", "orchard")
    wait_until(page, "document.querySelectorAll('[data-section=mailings] [data-rows] tr').length === 2")
    row = page.locator("[data-testid=mailing-row]", has_text="Harvest news")
    assert "olga.orchard@example.com" in row.inner_text()
    assert "Dear" not in page.inner_text("main")  # the message's text is not shown (R-AUTH-5)
    switch = row.locator("[data-testid=active-switch]")
    assert switch.is_checked()
    switch.click()
    confirm = page.locator("#confirm-modal")
    confirm.wait_for(state="visible")
    assert "Harvest news" in confirm.inner_text()
    confirm.locator("[data-bs-dismiss=modal] >> text=Cancel").click()
    confirm.wait_for(state="hidden")
    due_id = row.get_attribute("data-id")
    wait_focus(page, "active-switch", due_id)
    assert Mailing.objects.get(pk=due.pk).is_active
    assert row.locator("[data-testid=active-switch]").is_checked()
    page.keyboard.press("Space")  # the keyboard's way: the switch has focus again, and Escape leaves too
    wait_until(page, "document.getElementById('confirm-modal').contains(document.activeElement)")
    page.keyboard.press("Escape")
    confirm.wait_for(state="hidden")
    wait_focus(page, "active-switch", due_id)
    assert Mailing.objects.get(pk=due.pk).is_active

    switch.click()
    confirm.wait_for(state="visible")
    confirm.locator("[data-confirm-ok]").click()
    wait_until(
        page,
        "[...document.querySelectorAll('[data-testid=mailing-row]')]"
        ".some(r => r.textContent.includes('Harvest news') && r.textContent.includes('since'))",
    )
    wait_focus(page, "active-switch", due_id)  # on the switch of the row the payload re-rendered
    assert not row.locator("[data-testid=active-switch]").is_checked()
    assert not Mailing.objects.get(pk=due.pk).is_active
    wait_until(page, "document.querySelector('[data-stat=active]').textContent === '0'")

    # The scheduler's pass sends nothing for the disabled mailing (R-SEND-8).
    send_due()
    assert smtp.received == []
    assert not Delivery.objects.filter(mailing=due, status="sent").exists()

    # Enabled again: the row switches back, and the next pass sends the current occurrence.
    row.locator("[data-testid=active-switch]").click()
    confirm.wait_for(state="visible")
    assert "Enable" in confirm.locator("[data-confirm-ok]").inner_text()
    confirm.locator("[data-confirm-ok]").click()
    wait_until(
        page,
        "[...document.querySelectorAll('[data-testid=mailing-row]')]"
        ".some(r => r.textContent.includes('Harvest news') && !r.textContent.includes('since'))",
    )
    assert row.locator("[data-row-error]").is_hidden()
    assert row.locator("[data-testid=active-switch]").is_checked()
    assert Mailing.objects.get(pk=due.pk).is_active
    send_due()
    assert sorted(r for item in smtp.received for r in item.rcpt_tos) == sorted(
        due.clients.values_list("email", flat=True)
    )
    assert errors == []


def test_an_owner_opening_the_manager_dashboard_gets_403_R_AUTH_5(live_server, page):
    owner = UserFactory()
    log_in(page, live_server.url, owner.email)
    assert page.locator("nav a[href='/manager/']").count() == 0
    response = page.goto(live_server.url + "/manager/")
    assert response.status == 403
    assert "Not allowed" in page.inner_text("main")
    assert page.locator("[data-testid=manager-dashboard]").count() == 0


# Every word of the visible text in `root` that the browser broke across lines (a range over it has two
# line boxes); an email's parts between its <wbr>s are words here.
BROKEN_WORDS = """(root) => {
    const broken = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.parentElement.checkVisibility()) continue;
        for (const match of node.data.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            if (range.getClientRects().length > 1) broken.push(match[0]);
        }
    }
    return broken;
}"""


def test_failures_show_a_retry_message_and_errors_appear_next_to_the_row_at_phone_width_R_UI_8(
    live_server, browser
):
    """A failed load shows a retry box (never a blank) that recovers; a failed mutation shows its error next
    to its row; at 390 px nothing overflows sideways, no word or address is broken mid-word, the owner shows
    under the subject and a disabled mailing says so."""
    manager = make_managers_member()
    owner = UserFactory(email="phone.owner@example.com")
    MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="Pocket-sized news"))
    long_owner = UserFactory(
        email="alexandra.konstantinopolskaya@example-company.org",
        first_name="Alexandra",
        last_name="Konstantinopolskaya",
    )
    MailingFactory(
        owner=long_owner,
        message=MessageFactory(
            owner=long_owner, subject="Quarterly newsletter: international shipping announcements"
        ),
        is_active=False,
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = record_errors(page)
    log_in(page, live_server.url, manager.email)

    def refuse(route):
        route.fulfill(status=502, body="Bad gateway", content_type="text/plain")

    page.route("**/graphql/", refuse)
    page.goto(live_server.url + "/manager/")
    for section in ("stats", "mailings"):
        page.wait_for_selector(f"[data-section={section}][data-state=error]")
        box = page.locator(f"[data-section={section}] [data-testid=retry]")
        assert "HTTP 502" in box.inner_text() and "Try again" in box.inner_text()
    page.unroute("**/graphql/", refuse)
    page.click("[data-section=mailings] [data-testid=retry] button")
    wait_ready(page, "mailings")
    page.click("[data-section=stats] [data-testid=retry] button")
    wait_ready(page, "stats")
    assert page.is_hidden("[data-section=mailings] [data-error]")
    assert rows(page, "mailings").count() == 2

    # A mutation whose request fails: the switch stays on, the error shows in the row.
    pocket = page.locator("[data-testid=mailing-row]", has_text="Pocket-sized news")
    page.route("**/graphql/", refuse)
    pocket.locator("[data-testid=active-switch]").click()
    page.locator("#confirm-modal [data-confirm-ok]").click()
    error = pocket.locator("[data-row-error]")
    error.wait_for(state="visible")
    assert "HTTP 502" in error.inner_text()
    assert pocket.locator("[data-testid=active-switch]").is_checked()
    page.unroute("**/graphql/", refuse)

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert pocket.is_visible()
    table = page.locator("[data-section=mailings] .table-responsive")
    assert table.evaluate("box => box.scrollWidth <= box.clientWidth")
    assert (
        page.evaluate(BROKEN_WORDS, page.locator("[data-section=mailings] [data-rows]").element_handle())
        == []
    )
    # The owner column gives way to the owner's address under the subject; the disabled row says so.
    assert page.is_hidden("[data-section=mailings] thead th >> text=Owner")
    assert pocket.locator("[data-testid=owner-under-subject]").inner_text() == owner.email
    disabled = page.locator("[data-testid=mailing-row]", has_text="Quarterly newsletter")
    assert disabled.locator("[data-testid=owner-under-subject]").inner_text() == long_owner.email
    assert disabled.locator("[data-testid=disabled-note]").inner_text() == "Disabled"
    assert pocket.locator("[data-testid=disabled-note]").count() == 0

    page.click("#users-tab")
    page.click("[data-section=users] [data-testid=retry] button")  # it failed with the first load
    wait_ready(page, "users")
    page.locator("[data-section=users] [data-rows]").wait_for(state="visible")
    assert (
        page.evaluate(BROKEN_WORDS, page.locator("[data-section=users] [data-rows]").element_handle()) == []
    )
    users_table = page.locator("[data-section=users] .table-responsive")
    assert users_table.evaluate("box => box.scrollWidth <= box.clientWidth")
    assert errors == []
    context.close()


def sign_out_in_another_tab(page, base: str) -> None:
    """The same browser signs out from a second tab: the first tab's session cookie is gone."""
    other = page.context.new_page()
    other.goto(base + "/accounts/profile/")
    other.click("nav form[action='/accounts/logout/'] button")
    other.wait_for_load_state()
    other.close()


def test_an_ended_session_offers_to_sign_in_again_instead_of_a_retry_R_UI_8(live_server, page):
    """Signed out in another tab, the dashboard's next request answers UNAUTHENTICATED: a switch's mutation
    and a list's reload both say "Your session has ended. Sign in again." with a link to the sign-in page
    that comes back here — not the API's developer text, and no "Try again" that cannot help."""
    base = live_server.url
    manager = make_managers_member()
    owner = UserFactory(email="evening.owner@example.com")
    mailing = MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="Evening edition"))
    errors = record_errors(page)
    log_in(page, base, manager.email)
    for section in ("stats", "review", "mailings", "users"):
        wait_ready(page, section)
    sign_out_in_another_tab(page, base)

    page.locator("[data-testid=active-switch]").click()
    page.locator("#confirm-modal [data-confirm-ok]").click()
    notice = page.locator("[data-testid=mailing-row] [data-row-error] [data-testid=session-ended]")
    notice.wait_for()
    assert notice.inner_text() == "Your session has ended. Sign in again."
    assert notice.locator("a").get_attribute("href") == "/accounts/login/?next=%2Fmanager%2F"
    assert Mailing.objects.get(pk=mailing.pk).is_active

    with page.expect_response("**/graphql/") as answer:
        page.fill("#mailings-owner", "evening")
    assert answer.value.status == 401
    page.wait_for_selector("[data-section=mailings][data-state=error]")
    box = page.locator("[data-section=mailings] [data-error]")
    assert box.inner_text().strip() == "Your session has ended. Sign in again."
    assert box.locator("button").count() == 0
    assert "Sign in first" not in page.inner_text("main")

    box.locator("a").click()
    page.wait_for_url("**/accounts/login/?next=*")
    page.fill("#id_username", manager.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/manager/")
    wait_ready(page, "mailings")
    assert errors == []


def test_the_owner_pages_live_parts_offer_to_sign_in_again_when_the_session_ends_R_UI_9(live_server, page):
    """graphql.js's session-ended answer is shared: the mailing page's progress poll stops and shows the
    template's "Your session has ended. Sign in again." (no retrying message), and so does the report's chart
    (no "Try again"); each link comes back to its page after signing in."""
    base = live_server.url
    owner = UserFactory()
    mailing = due_mailing(owner=owner, clients=2)
    errors = record_errors(page)
    log_in(page, base, owner.email)
    detail = f"/mailings/{mailing.pk}/"
    page.goto(base + detail)
    page.wait_for_selector("[data-testid=progress][data-state=waiting]")
    sign_out_in_another_tab(page, base)
    notice = page.locator("[data-progress-session-ended]")
    notice.wait_for(timeout=20_000)
    assert " ".join(notice.inner_text().split()) == "Your session has ended. Sign in again."
    assert notice.locator("a").get_attribute("href") == f"/accounts/login/?next={detail.replace('/', '%2F')}"
    assert page.is_hidden("[data-progress-error]")
    polls: list[str] = []
    page.on("request", lambda r: "/graphql/" in r.url and polls.append(r.url))
    page.wait_for_timeout(6_000)  # two poll intervals and the first retry's delay
    assert polls == []

    # The report's chart: its first load fails (502), the session ends, then "Try again" meets the 401.
    log_in(page, base, owner.email)
    report = f"/mailings/{mailing.pk}/report/"

    def refuse(route):
        route.fulfill(status=502, body="Bad gateway", content_type="text/plain")

    page.route("**/graphql/", refuse)
    page.goto(base + report)
    page.wait_for_selector("[data-testid=chart][data-state=error]")
    page.unroute("**/graphql/", refuse)
    sign_out_in_another_tab(page, base)
    page.click("[data-chart-retry]")
    notice = page.locator("[data-chart-session-ended]")
    notice.wait_for()
    assert " ".join(notice.inner_text().split()) == "Your session has ended. Sign in again."
    assert page.is_hidden("[data-chart-error]") and page.is_hidden("[data-chart-retry]")
    notice.locator("a").click()
    page.wait_for_url("**/accounts/login/?next=*")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + report)
    page.wait_for_selector("[data-testid=chart][data-state=ready]")
    assert errors == []
