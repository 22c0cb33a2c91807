"""The mailing pages (R-UI-1, R-UI-3, R-UI-4, R-DATA-3): list with filters, create and edit in
the owner's time zone, the clients picker, delete, send now, the detail page with its live progress —
owner-scoped (R-AUTH-4), refused to managers (R-AUTH-5) and content editors (R-AUTH-6)."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from backend.mailings.models import Client, Delivery, Mailing, Occurrence
from backend.mailings.sending import send_due
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory(time_zone="Europe/Moscow")
    client.force_login(user)
    return user


def form_data(message, clients, **changes) -> dict:
    """What the form posts for chosen clients: the picker sends the clients it added (R-AUD-3)."""
    data = {
        "message": message.pk,
        "audience": "clients",
        "clients_added": [c.pk for c in clients],
        "start_at": "2031-03-01T09:00",
        "end_at": "2031-06-01T09:00",
        "periodicity": "weekly",
    }
    data.update(changes)
    return data


def chip_ids(html: str) -> set[int]:
    """The clients shown as chips: the mailing's own (not ticked for removal) and those added."""
    return {int(value) for value in re.findall(r'data-chip data-client-id="(\d+)"(?! data-removed)', html)}


# --- the list -----------------------------------------------------------------------------------------


def test_list_shows_only_the_owners_mailings_with_status_badges_R_UI_1_R_AUTH_4(client, owner):
    MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="Mine started"), status="started")
    MailingFactory(
        owner=owner,
        message=MessageFactory(owner=owner, subject="Mine disabled"),
        is_active=False,
    )
    MailingFactory(message=MessageFactory(subject="Theirs"))
    response = client.get(reverse("mailings:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mine started" in html and "Mine disabled" in html
    assert "Theirs" not in html
    assert 'data-status="started"' in html
    assert ">disabled</span>" in html
    assert reverse("mailings:new") in html


def test_a_superusers_list_holds_only_their_own_mailings(client):
    boss = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(boss)
    MailingFactory(owner=boss, message=MessageFactory(owner=boss, subject="Boss own"))
    other = MailingFactory(message=MessageFactory(subject="Someone else"))
    html = client.get(reverse("mailings:list")).content.decode()
    assert "Boss own" in html and "Someone else" not in html
    assert client.get(reverse("mailings:detail", args=[other.pk])).status_code == 404


def test_filters_by_status_periodicity_and_active(client, owner):
    def make(subject, **fields):
        MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject=subject), **fields)

    make("Alpha created daily", status="created", periodicity="daily")
    make("Bravo started weekly", status="started", periodicity="weekly")
    make("Charlie completed once", status="completed", periodicity="once")
    make("Delta disabled monthly", status="started", periodicity="monthly", is_active=False)

    def shown(**params) -> set[str]:
        html = client.get(reverse("mailings:list"), params).content.decode()
        return {name for name in ("Alpha", "Bravo", "Charlie", "Delta") if f"{name} " in html}

    assert shown() == {"Alpha", "Bravo", "Charlie", "Delta"}
    assert shown(status="started") == {"Bravo", "Delta"}
    assert shown(periodicity="once") == {"Charlie"}
    assert shown(active="no") == {"Delta"}
    assert shown(active="yes", status="started") == {"Bravo"}
    # A value that is not a choice (hand-made URL) is ignored, not a 500.
    assert shown(status="exploded", periodicity="hourly", active="maybe") == {
        "Alpha",
        "Bravo",
        "Charlie",
        "Delta",
    }
    html = client.get(
        reverse("mailings:list"), {"status": "completed", "periodicity": "daily"}
    ).content.decode()
    assert 'data-testid="no-match"' in html and "No mailing matches these filters." in html


def test_filters_survive_pagination_and_sorting(client, owner):
    message = MessageFactory(owner=owner)
    for _ in range(30):
        MailingFactory(owner=owner, message=message, status="started")
    MailingFactory(owner=owner, message=message, status="created")
    first = client.get(reverse("mailings:list"), {"status": "started"})
    assert first.context["table"]["page"].paginator.count == 30
    assert "status=started" in first.context["table"]["next_url"]
    assert all(
        "status=started" in column["url"] for column in first.context["table"]["header"] if column["url"]
    )


def test_empty_list_says_what_to_do_next(client, owner):
    html = client.get(reverse("mailings:list")).content.decode()
    assert 'data-testid="empty-state"' in html
    assert "Create your first mailing" in html


def test_list_query_count_does_not_grow_with_rows(client, owner):
    def fill(count):
        message = MessageFactory(owner=owner)
        clients = [ClientFactory(owner=owner) for _ in range(2)]
        for _ in range(count):
            MailingFactory(owner=owner, message=message, clients=clients)

    fill(5)
    few = queries_for(client, reverse("mailings:list"))
    fill(95)
    many = queries_for(client, reverse("mailings:list"))
    assert few == many
    filtered = queries_for(client, reverse("mailings:list") + "?status=created&periodicity=once&active=yes")
    assert filtered == many


# --- create and edit ----------------------------------------------------------------------------------


def test_create_a_mailing_in_the_owners_time_zone_R_UI_3(client, owner):
    message = MessageFactory(owner=owner)
    chosen = [ClientFactory(owner=owner) for _ in range(2)]
    ClientFactory(owner=owner)  # not chosen
    response = client.post(reverse("mailings:new"), form_data(message, chosen))
    mailing = Mailing.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("mailings:detail", args=[mailing.pk])
    # 09:00 in Moscow (UTC+3) is 06:00 UTC.
    assert mailing.start_at == dt.datetime(2031, 3, 1, 6, 0, tzinfo=dt.UTC)
    assert set(mailing.clients.all()) == set(chosen)
    assert (mailing.periodicity, mailing.status, mailing.time_zone) == ("weekly", "created", "Europe/Moscow")
    page = client.get(response["Location"]).content.decode()
    assert "created" in page


def test_a_mailing_that_starts_now_is_due_at_once_and_says_so(client, owner):
    message = MessageFactory(owner=owner)
    now = timezone.localtime(timezone.now(), owner.tz)
    data = form_data(
        message,
        [ClientFactory(owner=owner)],
        start_at=now.strftime("%Y-%m-%dT%H:%M"),
        end_at=(now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        periodicity="once",
    )
    response = client.post(reverse("mailings:new"), data, follow=True)
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.next_run_at <= timezone.now()
    html = response.content.decode()
    assert "it starts sending within a few seconds" in html
    assert 'data-live="1"' in html and 'data-state="waiting"' in html


def test_an_invalid_form_keeps_what_was_typed_and_saves_nothing(client, owner):
    message = MessageFactory(owner=owner)
    chosen = [ClientFactory(owner=owner) for _ in range(3)]
    data = form_data(message, chosen[:2], start_at="2031-05-01T10:30", end_at="2031-04-01T10:30")
    response = client.post(reverse("mailings:new"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The end must be after the start." in html
    assert 'value="2031-05-01T10:30"' in html and 'value="2031-04-01T10:30"' in html
    assert chip_ids(html) == {chosen[0].pk, chosen[1].pk}
    assert html.count('name="clients_added"') == 2
    assert re.search(r'<option value="weekly" selected', html)
    assert not Mailing.objects.exists()


def test_no_clients_chosen_is_an_error_on_the_picker(client, owner):
    message = MessageFactory(owner=owner)
    ClientFactory(owner=owner)
    response = client.post(reverse("mailings:new"), form_data(message, []))
    assert response.status_code == 200
    assert response.context["form"].errors["clients"]
    assert not Mailing.objects.exists()


def test_another_owners_message_or_clients_are_not_valid_choices_R_AUTH_4(client, owner):
    mine = MessageFactory(owner=owner)
    my_client = ClientFactory(owner=owner)
    theirs = MessageFactory()
    their_client = ClientFactory(owner=theirs.owner, email="secret@example.org")
    response = client.post(reverse("mailings:new"), form_data(theirs, [my_client]))
    assert response.context["form"].errors["message"]
    response = client.post(reverse("mailings:new"), form_data(mine, [my_client, their_client]))
    assert response.context["form"].errors["clients_added"]
    assert "secret@example.org" not in response.content.decode()
    assert not Mailing.objects.exists()


def test_the_picker_renders_no_client_rows_and_carries_its_search_operation_R_AUD_3(client, owner):
    """The form never lists the owner's clients: the picker asks /graphql/ for one page at a time."""
    ClientFactory(owner=owner, email="here@example.org")
    ClientFactory(email="elsewhere@example.org")
    html = client.get(reverse("mailings:new")).content.decode()
    assert "here@example.org" not in html and "elsewhere@example.org" not in html
    assert "js/client-picker.js" in html and 'id="graphql-operation-clientPicker"' in html
    assert 'name="csrf-token"' in html
    # Without JavaScript: a search whose every match is added.
    assert 'name="clients_matching"' in html


def test_the_new_form_stays_small_and_constant_with_thousands_of_clients_R_AUD_3(client, owner):
    ClientFactory.create_batch(5, owner=owner)
    few = queries_for(client, reverse("mailings:new"))
    small = len(client.get(reverse("mailings:new")).content)
    Client.objects.bulk_create(
        Client(owner=owner, email=f"bulk{n}@example.org", full_name=f"Bulk {n}") for n in range(5000)
    )
    assert queries_for(client, reverse("mailings:new")) == few
    html = client.get(reverse("mailings:new")).content.decode()
    assert len(html) < small + 200  # (the CSRF token and the nonce vary a little)
    assert "bulk1@example.org" not in html


def test_edit_shows_the_saved_values_in_the_owners_time_zone_and_saves(client, owner):
    message = MessageFactory(owner=owner)
    chosen = [ClientFactory(owner=owner) for _ in range(2)]
    other = ClientFactory(owner=owner)
    mailing = MailingFactory(
        owner=owner,
        message=message,
        clients=chosen,
        start_at=dt.datetime(2031, 3, 1, 6, 0, tzinfo=dt.UTC),
        end_at=dt.datetime(2031, 6, 1, 6, 0, tzinfo=dt.UTC),
    )
    html = client.get(reverse("mailings:edit", args=[mailing.pk])).content.decode()
    assert 'value="2031-03-01T09:00"' in html  # Moscow time
    assert chip_ids(html) == {c.pk for c in chosen}

    data = form_data(message, [other], periodicity="daily", start_at="2031-03-02T08:15")
    data["clients_removed"] = [c.pk for c in chosen]
    response = client.post(reverse("mailings:edit", args=[mailing.pk]), data)
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.periodicity == "daily"
    assert mailing.start_at == dt.datetime(2031, 3, 2, 5, 15, tzinfo=dt.UTC)
    assert list(mailing.clients.all()) == [other]


def test_edit_with_invalid_data_keeps_it_and_changes_nothing(client, owner):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    before = (mailing.start_at, mailing.end_at, mailing.periodicity)
    data = form_data(mailing.message, [], start_at="not a date")
    response = client.post(reverse("mailings:edit", args=[mailing.pk]), data)
    assert response.status_code == 200
    assert 'value="not a date"' in response.content.decode()
    mailing.refresh_from_db()
    assert (mailing.start_at, mailing.end_at, mailing.periodicity) == before


# --- delete -------------------------------------------------------------------------------------------


def test_delete_asks_then_deletes_with_its_log_R_UI_4(client, owner, smtp):
    mailing = due_mailing(owner=owner, clients=2)
    send_due()
    url = reverse("mailings:delete", args=[mailing.pk])
    html = client.get(url).content.decode()
    assert 'data-testid="delete-confirmation"' in html
    assert "Its 1 send and its delivery log are deleted with it." in html
    assert Mailing.objects.filter(pk=mailing.pk).exists()
    response = client.post(url, follow=True)
    assert not Mailing.objects.filter(pk=mailing.pk).exists()
    assert not Delivery.objects.filter(mailing_id=mailing.pk).exists()
    assert "deleted" in response.content.decode()
    assert Client.objects.filter(owner=owner).count() == 2  # the clients stay


# --- send now -----------------------------------------------------------------------------------------


def test_send_now_queues_and_sends_nothing_in_the_request_R_SEND_6(client, owner, smtp):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner) for _ in range(3)])
    response = client.post(reverse("mailings:send_now", args=[mailing.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:detail", args=[mailing.pk])
    html = response.content.decode()
    assert "Queued for 3 recipients" in html
    occurrence = Occurrence.objects.get(mailing=mailing)
    assert occurrence.is_manual
    assert occurrence.deliveries.filter(status="pending").count() == 3
    assert smtp.received == []
    # The page now follows the queued send live.
    assert 'data-live="1"' in html and 'data-state="running"' in html
    send_due()
    assert len(smtp.received) == 3


def test_send_now_refusals_show_the_services_message_and_queue_nothing(client, owner, smtp):
    nobody = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner, unsubscribed_at=timezone.now())])
    response = client.post(reverse("mailings:send_now", args=[nobody.pk]), follow=True)
    assert "This mailing has no subscribed clients to send to." in response.content.decode()
    disabled = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)], is_active=False)
    response = client.post(reverse("mailings:send_now", args=[disabled.pk]), follow=True)
    assert "This mailing is disabled" in response.content.decode()
    assert not Occurrence.objects.exists()


def test_a_double_send_now_is_refused_while_the_first_runs(client, owner, smtp):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    client.post(reverse("mailings:send_now", args=[mailing.pk]))
    response = client.post(reverse("mailings:send_now", args=[mailing.pk]), follow=True)
    assert "still in progress" in response.content.decode()
    assert Occurrence.objects.filter(mailing=mailing).count() == 1


def test_send_now_is_post_only(client, owner):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    assert client.get(reverse("mailings:send_now", args=[mailing.pk])).status_code == 405
    assert not Occurrence.objects.exists()


# --- the detail page ----------------------------------------------------------------------------------


def test_detail_shows_the_schedule_and_next_sends_in_the_owners_time_zone(client, owner):
    start = dt.datetime(2031, 3, 3, 6, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in Moscow
    mailing = MailingFactory(
        owner=owner,
        periodicity="weekly",
        start_at=start,
        end_at=start + dt.timedelta(weeks=10),
        clients=[ClientFactory(owner=owner), ClientFactory(owner=owner, unsubscribed_at=timezone.now())],
    )
    response = client.get(reverse("mailings:detail", args=[mailing.pk]))
    assert response.status_code == 200
    upcoming = response.context["upcoming"]
    assert len(upcoming) == 5
    assert upcoming[0] == start and upcoming[1] == start + dt.timedelta(weeks=1)
    html = response.content.decode()
    assert "<li>March 3, 2031, 9:00 AM</li>" in html.split('data-testid="upcoming"')[1]  # 06:00 UTC
    assert "Europe/Moscow" in html
    assert 'data-live=""' in html and 'data-state="none"' in html
    assert response.context["clients_total"] == 2 and response.context["clients_subscribed"] == 1


def test_detail_carries_the_progress_operation_and_the_mailings_global_id(client, owner):
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    html = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    assert 'id="graphql-operation-mailingProgress" type="application/json"' in html
    assert "query MailingProgress" in html
    assert 'name="csrf-token"' in html
    assert "js/mailing-progress.js" in html
    from graphql_relay import to_global_id

    assert f'data-mailing-id="{to_global_id("Mailing", mailing.pk)}"' in html


def test_detail_shows_the_latest_sends_counts(client, owner, smtp):
    mailing = due_mailing(owner=owner, clients=3)
    smtp.set(reject={mailing.clients.order_by("pk").first().email.lower()})
    send_due()
    response = client.get(reverse("mailings:detail", args=[mailing.pk]))
    assert response.context["state"] == "done"
    progress = response.context["progress"]
    assert (progress["sent"], progress["failed"], progress["waiting"], progress["total"]) == (2, 1, 0, 3)
    html = response.content.decode()
    assert 'data-progress-count="sent">2<' in html and 'data-progress-count="failed">1<' in html


# --- isolation and roles ------------------------------------------------------------------------------


def test_another_owners_mailing_is_a_404_everywhere_and_nothing_changes_R_AUTH_4(client, owner, smtp):
    their_client = ClientFactory()
    theirs = MailingFactory(owner=their_client.owner, clients=[their_client], status="created")
    before = Mailing.objects.filter(pk=theirs.pk).values().get()
    missing = theirs.pk + 1000
    for pk in (theirs.pk, missing):
        for name in ("detail", "edit", "delete", "report", "report_export"):
            assert client.get(reverse(f"mailings:{name}", args=[pk])).status_code == 404, name
        data = form_data(MessageFactory(owner=owner), [ClientFactory(owner=owner)])
        assert client.post(reverse("mailings:edit", args=[pk]), data).status_code == 404
        assert client.post(reverse("mailings:delete", args=[pk])).status_code == 404
        assert client.post(reverse("mailings:send_now", args=[pk])).status_code == 404
    assert Mailing.objects.filter(pk=theirs.pk).values().get() == before
    assert list(theirs.clients.all()) == [their_client]
    assert not Occurrence.objects.filter(mailing=theirs).exists()
    assert smtp.received == []


def test_anonymous_visitors_go_to_the_login_page(client):
    mailing = MailingFactory()
    urls = [reverse("mailings:list"), reverse("mailings:new")] + [
        reverse(f"mailings:{name}", args=[mailing.pk]) for name in ("detail", "edit", "delete")
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))
    response = client.post(reverse("mailings:send_now", args=[mailing.pk]))
    assert response.status_code == 302 and not Occurrence.objects.exists()


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client, smtp):
    mailing = MailingFactory(clients=[ClientFactory()])
    for role, user in refused_accounts().items():
        client.force_login(user)
        for url in [reverse("mailings:list"), reverse("mailings:new")] + [
            reverse(f"mailings:{name}", args=[mailing.pk]) for name in ("detail", "edit", "delete")
        ]:
            assert_refused_page(client.get(url))
        assert client.post(reverse("mailings:send_now", args=[mailing.pk])).status_code == 403, role
        assert client.post(reverse("mailings:delete", args=[mailing.pk])).status_code == 403, role
    assert Mailing.objects.filter(pk=mailing.pk).exists()
    assert not Occurrence.objects.exists()


def test_navbar_links_mailings_and_reports_for_owners(client, owner):
    html = client.get(reverse("mailings:list")).content.decode()
    nav = html.split("</nav>")[0]
    assert f'href="{reverse("mailings:list")}"' in nav and f'href="{reverse("reports")}"' in nav


def test_graphql_operation_tag_reads_only_named_files_of_graphql_operations():
    """The pages embed operations by name; a name cannot reach another file."""
    from django.template import TemplateSyntaxError

    from backend.web.templatetags.graphql_operations import graphql_operation, operation_text

    assert "query MailingProgress" in operation_text("mailingProgress")
    for name in ("../schema", "mailingProgress.graphql", "/etc/passwd", "", "a/b"):
        with pytest.raises(TemplateSyntaxError):
            operation_text(name)
    embedded = str(graphql_operation("mailingReport"))
    assert embedded.startswith('<script id="graphql-operation-mailingReport" type="application/json">')
    assert "<" not in embedded.split(">", 1)[1].rsplit("</script>", 1)[0]  # json_script escapes markup


def test_detail_says_which_zone_the_schedule_keeps_and_which_the_page_shows(client, owner):
    """ "Time zone: Europe/Moscow (sends keep the local time of UTC)" mixed the viewer's
    zone with the schedule's. The schedule's zone (the mailing's, set when it was created) is named as
    such; the viewer's zone is named apart when it differs."""
    mailing = MailingFactory(owner=owner, time_zone="UTC")
    html = client.get(reverse("mailings:detail", args=[mailing.pk])).content.decode()
    schedule_zone = html.split('data-testid="schedule-zone">')[1].split("</dd>")[0]
    assert schedule_zone.startswith("UTC<")
    assert "Each send keeps its local time in this zone, which was set when the mailing was created." in html
    assert "Schedule's time zone" in html
    viewer_zone = html.split('data-testid="viewer-zone">')[1].split("</dd>")[0]
    assert viewer_zone == f"{owner.time_zone}, your time zone"
    assert "sends keep the local time of" not in html

    same = MailingFactory(owner=owner, time_zone=owner.time_zone)
    html = client.get(reverse("mailings:detail", args=[same.pk])).content.decode()
    assert html.split('data-testid="schedule-zone">')[1].startswith(f"{owner.time_zone}<")
    assert 'data-testid="viewer-zone"' not in html


def _badges(html: str) -> dict[str, bool]:
    """Each badge of the page header and whether it shows."""
    header = html.split('data-testid="mailing-status" data-mailing-status>')[1].split("</div>")[0]
    badge = re.compile(r'<span class="badge [^"]*" data-(status-disabled|status="\w+")([^>]*)>')
    return {name: " hidden" not in attrs for name, attrs in badge.findall(header)}


def test_send_now_is_offered_only_when_the_domain_would_queue_it(client, owner):
    """ "Send now" stayed on a completed mailing. The page asks the domain
    (mailing_check_send_now): when it refuses, there is no button and the reason shows instead; the
    service still refuses a POST."""
    sendable = MailingFactory(owner=owner, status="started", clients=[ClientFactory(owner=owner)])
    html = client.get(reverse("mailings:detail", args=[sendable.pk])).content.decode()
    assert 'data-testid="send-now"' in html and 'data-testid="send-now-refusal"' not in html

    completed = MailingFactory(owner=owner, status="completed", clients=[ClientFactory(owner=owner)])
    html = client.get(reverse("mailings:detail", args=[completed.pk])).content.decode()
    assert 'data-testid="send-now"' not in html
    assert "This mailing is completed; move its end later to send it again." in html
    response = client.post(reverse("mailings:send_now", args=[completed.pk]), follow=True)
    assert "This mailing is completed" in response.content.decode()
    assert not completed.occurrences.exists()

    nobody = MailingFactory(owner=owner)
    html = client.get(reverse("mailings:detail", args=[nobody.pk])).content.decode()
    assert 'data-testid="send-now"' not in html
    assert "This mailing has no subscribed clients to send to." in html

    disabled = MailingFactory(owner=owner, is_active=False, clients=[ClientFactory(owner=owner)])
    html = client.get(reverse("mailings:detail", args=[disabled.pk])).content.decode()
    assert 'data-testid="send-now"' not in html
    assert "A manager disabled this mailing" in html


def test_the_header_carries_a_badge_per_status_for_the_live_poll_showing_the_mailings_own(client, owner):
    """The badge stayed "started" after the live progress said done. The page carries
    every status's badge (the server's words) and its script shows the one mailingProgress reports."""
    started = MailingFactory(owner=owner, status="started")
    html = client.get(reverse("mailings:detail", args=[started.pk])).content.decode()
    assert _badges(html) == {
        'status="created"': False,
        'status="started"': True,
        'status="completed"': False,
        "status-disabled": False,
    }
    assert ">completed</span>" in html
    disabled = MailingFactory(owner=owner, status="completed", is_active=False)
    html = client.get(reverse("mailings:detail", args=[disabled.pk])).content.decode()
    shown = [name for name, visible in _badges(html).items() if visible]
    assert shown == ['status="completed"', "status-disabled"]
