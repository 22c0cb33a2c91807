"""The report pages (R-UI-2, R-UI-9, R-DATA-4, R-SEND-4): a mailing's sends with their counts,
the chart's operation, the per-recipient attempt log with the server's answers, retry failed, the log as
CSV, and every completed send at /reports/ — owner-scoped (R-AUTH-4), refused to managers (R-AUTH-5)."""

import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from backend.mailings.sending import send_due
from tests.factories import ClientFactory, MailingFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory(time_zone="Europe/Moscow")
    client.force_login(user)
    return user


def sent_with_one_refusal(owner, smtp, *, clients: int = 3, periodicity: str = "once"):
    """A mailing sent by the real engine, its first client refused with 550."""
    mailing = due_mailing(owner=owner, clients=clients, periodicity=periodicity)
    refused = mailing.clients.order_by("pk").first()
    smtp.set(reject={refused.email.lower()})
    summary = send_due()
    assert (summary.sent, summary.failed) == (clients - 1, 1)
    return mailing, mailing.occurrences.get(), refused


def history(mailing, *, occurrences: int, deliveries: int) -> None:
    """Finished occurrences with sent deliveries and one attempt each, written directly (fast, for
    query counts)."""
    now = timezone.now()
    for n in range(occurrences):
        occurrence = Occurrence.objects.create(
            mailing=mailing, scheduled_for=now - dt.timedelta(days=n + 1), finished_at=now
        )
        rows = Delivery.objects.bulk_create(
            Delivery(
                mailing=mailing,
                occurrence=occurrence,
                email=f"r{n}-{k}@example.org",
                status="sent",
                attempts=1,
                last_attempt_at=now,
                sent_at=now,
                last_response="250 2.0.0 Ok",
            )
            for k in range(deliveries)
        )
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(delivery=row, attempted_at=now, outcome="sent", smtp_code=250, response="Ok")
            for row in rows
        )


# --- a mailing's report -------------------------------------------------------------------------------


def test_report_shows_each_sends_counts_and_the_attempt_log_with_server_answers_R_DATA_4(client, owner, smtp):
    mailing, occurrence, refused = sent_with_one_refusal(owner, smtp)
    response = client.get(reverse("mailings:report", args=[mailing.pk]))
    assert response.status_code == 200
    row = response.context["occurrences"][0]
    assert (row.sent_count, row.failed_count, row.retrying_count, row.pending_count) == (2, 1, 0, 0)
    html = response.content.decode()
    assert f'data-occurrence="{occurrence.pk}"' in html
    assert 'data-count="sent">2<' in html and 'data-count="failed">1<' in html
    assert f'data-delivery="{refused.email}"' in html
    assert "the recipient&#x27;s address was refused" in html  # what the server's answer means
    assert "Recipient address rejected" not in html  # its own text is for superusers
    assert "<code>550</code>" in html and "<code>250</code>" in html
    assert reverse("mailings:retry", args=[mailing.pk, occurrence.pk]) in html
    assert response.context["log"].paginator.count == 3


def test_report_carries_the_chart_operation_labels_and_chartjs_from_static_R_UI_9(client, owner):
    mailing = MailingFactory(owner=owner)
    html = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    assert 'id="graphql-operation-mailingReport" type="application/json"' in html
    assert "query MailingReport" in html
    assert 'id="report-chart-labels"' in html and '"failed": "Failed"' in html
    assert f'data-mailing-id="{to_global_id("Mailing", mailing.pk)}"' in html
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert 'data-testid="empty-state"' in html  # nothing sent yet


def test_the_log_filters_by_outcome_occurrence_and_email(client, owner, smtp):
    mailing, occurrence, refused = sent_with_one_refusal(owner, smtp, periodicity="daily")
    second = services_send_now(mailing)
    url = reverse("mailings:report", args=[mailing.pk])

    def emails(**params) -> list[str]:
        return [d.email for d in client.get(url, params).context["log"]]

    assert len(emails()) == 6
    assert emails(status="failed") == [refused.email]
    assert len(emails(status="sent")) == 2
    assert len(emails(status="pending")) == 3
    assert len(emails(occurrence=occurrence.pk)) == 3
    assert len(emails(occurrence=second.pk, status="pending")) == 3
    assert emails(q=refused.email.upper()) == [refused.email, refused.email]
    # Values that are not choices (a hand-made URL) are ignored, not a 500.
    assert len(emails(status="exploded", occurrence="x")) == 6
    assert len(emails(occurrence=99999)) == 6
    html = client.get(url, {"status": "skipped"}).content.decode()
    assert 'data-testid="no-match"' in html


def test_a_refused_email_search_in_the_log_says_why(client, owner, smtp):
    """A search the log cannot run (a NUL) is shown under the box, as on the list pages, not silently
    dropped while the box keeps the text."""
    mailing, _occurrence, _refused = sent_with_one_refusal(owner, smtp)
    response = client.get(reverse("mailings:report", args=[mailing.pk]), {"q": "a\x00b"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="search-error"' in html and "is-invalid" in html
    assert len(response.context["log"]) == 3


def services_send_now(mailing) -> Occurrence:
    from backend.mailings import services

    return services.mailing_send_now(actor=mailing.owner, mailing=mailing)


def test_the_log_is_paginated_and_keeps_its_filters(client, owner):
    mailing = MailingFactory(owner=owner)
    history(mailing, occurrences=1, deliveries=30)
    response = client.get(reverse("mailings:report", args=[mailing.pk]), {"status": "sent"})
    assert len(response.context["log"]) == 25
    next_url = response.context["log_pages"]["next_url"]
    assert "page=2" in next_url and "status=sent" in next_url
    second = client.get(reverse("mailings:report", args=[mailing.pk]) + next_url)
    assert len(second.context["log"]) == 5


def test_report_query_count_does_not_grow_with_sends_or_recipients(client, owner):
    mailing = MailingFactory(owner=owner)
    history(mailing, occurrences=5, deliveries=5)
    url = reverse("mailings:report", args=[mailing.pk])
    few = queries_for(client, url)
    history(mailing, occurrences=95, deliveries=20)
    many = queries_for(client, url)
    assert few == many


def test_every_page_of_sends_shows_its_own_counts(client, owner):
    """The sends are paged first and counted per page (one stats query over the page's rows): each row on a
    later page still carries its own recipients' count."""
    mailing = MailingFactory(owner=owner)
    history(mailing, occurrences=25, deliveries=0)
    for n, occurrence in enumerate(mailing.occurrences.order_by("-scheduled_for")):
        Delivery.objects.bulk_create(
            Delivery(mailing=mailing, occurrence=occurrence, email=f"p{n}-{k}@example.org", status="sent")
            for k in range(n + 1)
        )
    url = reverse("mailings:report", args=[mailing.pk])
    second = client.get(url, {"sends": 2})
    rows = second.context["occurrences"].object_list
    assert [row.sent_count for row in rows] == [21, 22, 23, 24, 25]
    finished = client.get(reverse("reports"))
    assert sorted(row.sent_count for row in finished.context["sends"].object_list) == list(range(1, 26))


# --- retry failed -------------------------------------------------------------------------------------


def test_retry_failed_queues_the_refused_recipient_and_the_next_pass_sends_it(client, owner, smtp):
    mailing, occurrence, refused = sent_with_one_refusal(owner, smtp)
    url = reverse("mailings:retry", args=[mailing.pk, occurrence.pk])
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailings:report", args=[mailing.pk])
    assert "1 failed delivery is queued again" in response.content.decode()
    delivery = Delivery.objects.get(occurrence=occurrence, client=refused)
    assert delivery.status == "pending"
    assert len(smtp.received) == 2  # nothing sent in the request

    smtp.set(reject=set())
    send_due()
    html = client.get(reverse("mailings:report", args=[mailing.pk]), {"status": "sent"}).content.decode()
    block = html.split(f'data-delivery="{refused.email}"')[1].split("</table>")[0]
    assert block.index('data-outcome="permanent"') < block.index('data-outcome="sent"')

    again = client.post(url, follow=True)
    assert "This send has no failed deliveries to retry." in again.content.decode()


def test_retry_is_post_only_and_the_occurrence_must_belong_to_the_mailing(client, owner, smtp):
    mailing, occurrence, _ = sent_with_one_refusal(owner, smtp)
    other_own = MailingFactory(owner=owner)
    assert client.get(reverse("mailings:retry", args=[mailing.pk, occurrence.pk])).status_code == 405
    assert client.post(reverse("mailings:retry", args=[other_own.pk, occurrence.pk])).status_code == 404
    assert client.post(reverse("mailings:retry", args=[mailing.pk, occurrence.pk + 1000])).status_code == 404
    assert Delivery.objects.filter(occurrence=occurrence, status="failed").count() == 1


RELAY_ANSWER = "5.1.1 <x@example.org>: Recipient address rejected: User unknown [mx3.relay.internal 10.0.4.7]"


def failed_through_a_relay(owner) -> Mailing:
    """A mailing with one delivery the relay refused, its answer naming the relay's host and address."""
    mailing = MailingFactory(owner=owner)
    occurrence = mailing.occurrences.create(scheduled_for=timezone.now(), finished_at=timezone.now())
    delivery = Delivery.objects.create(
        mailing=mailing,
        occurrence=occurrence,
        email="x@example.org",
        status="failed",
        attempts=2,
        last_attempt_at=timezone.now(),
        last_response=f"550 {RELAY_ANSWER}",
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, attempted_at=timezone.now(), outcome="temporary", response="timed out after 10 s"
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=timezone.now(),
        outcome="permanent",
        smtp_code=550,
        response=RELAY_ANSWER,
    )
    return mailing


def test_an_owner_reads_the_relays_failure_classified_never_its_text(client, owner):
    """Issue item: the report, its CSV export and the dashboard show an owner what a failure means ("the
    server timed out", "the recipient's address was refused"), in their language; the relay's own text with
    its host names stays out of every one of them."""
    mailing = failed_through_a_relay(owner)
    pages = {
        "report": client.get(reverse("mailings:report", args=[mailing.pk])).content.decode(),
        "export": b"".join(
            client.get(reverse("mailings:report_export", args=[mailing.pk])).streaming_content
        ).decode(),
        "dashboard": client.get(reverse("web:dashboard")).content.decode(),
    }
    for name, text in pages.items():
        for secret in ("relay.internal", "10.0.4.7", "User unknown"):
            assert secret not in text, (name, secret)
    answers = re.findall(r'data-testid="attempt-answer">(.*?)</td>', pages["report"], flags=re.S)
    assert [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in answers] == [
        "the mail server timed out",
        "550 the recipient's address was refused",
    ]
    assert "the recipient's address was refused" in pages["export"]
    assert "the recipient&#x27;s address was refused" in pages["dashboard"]
    russian = client.get(reverse("mailings:report", args=[mailing.pk]), HTTP_ACCEPT_LANGUAGE="ru")
    assert "почтовый сервер не ответил вовремя" in russian.content.decode()


def test_a_superuser_reads_the_relays_own_answer(client):
    """The operator (a superuser, on their own mailing's report and export) sees the answer as received."""
    root = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(root)
    mailing = failed_through_a_relay(root)
    html = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    assert "mx3.relay.internal 10.0.4.7" in html and "timed out after 10 s" in html
    export = b"".join(client.get(reverse("mailings:report_export", args=[mailing.pk])).streaming_content)
    assert "mx3.relay.internal" in export.decode()


# --- CSV export ---------------------------------------------------------------------------------------


def test_export_streams_the_log_as_csv_with_the_pages_filters(client, owner, smtp):
    mailing, _, refused = sent_with_one_refusal(owner, smtp)
    MailingFactory(owner=owner)  # another mailing's log stays out
    response = client.get(reverse("mailings:report_export", args=[mailing.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert f"mailing-{mailing.pk}-log-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["email", "status"]
    assert len(rows) == 4
    assert [row[4] for row in rows[1:] if row[0] == refused.email and row[1] == "failed"] == [
        "the recipient's address was refused"
    ]
    # The send each row belongs to, at its scheduled time in the owner's zone (Moscow, +03:00).
    scheduled = timezone.localtime(mailing.occurrences.get().scheduled_for, owner.tz)
    assert rows[0][5] == "send scheduled for (Europe/Moscow)"
    assert {row[5] for row in rows[1:]} == {scheduled.isoformat(sep=" ", timespec="seconds")}
    assert rows[1][5].endswith("+03:00")
    only_failed = client.get(reverse("mailings:report_export", args=[mailing.pk]), {"status": "failed"})
    rows = list(csv.reader(io.StringIO(b"".join(only_failed.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [refused.email]


# --- /reports/ ----------------------------------------------------------------------------------------


def test_reports_lists_completed_sends_of_the_owners_mailings_only_R_UI_2(client, owner, smtp):
    mailing, occurrence, _ = sent_with_one_refusal(owner, smtp)
    running = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    services_send_now(running)  # queued, not finished: not a completed send
    theirs = due_mailing(clients=1)
    send_due()  # sends the queued one and the stranger's
    theirs_occurrence = theirs.occurrences.get()
    Occurrence.objects.filter(mailing=running).update(finished_at=None)

    response = client.get(reverse("reports"))
    assert response.status_code == 200
    sends = list(response.context["sends"])
    assert [send.pk for send in sends] == [occurrence.pk]
    html = response.content.decode()
    assert reverse("mailings:report", args=[mailing.pk]) in html
    assert reverse("mailings:report", args=[theirs.pk]) not in html
    assert sends[0].success_rate == 67
    assert theirs_occurrence.finished_at is not None


def test_reports_empty_state(client, owner):
    html = client.get(reverse("reports")).content.decode()
    assert 'data-testid="empty-state"' in html and "No completed sends yet." in html


def test_reports_query_count_does_not_grow_with_rows(client, owner):
    mailing = MailingFactory(owner=owner)
    history(mailing, occurrences=5, deliveries=2)
    few = queries_for(client, reverse("reports"))
    for _ in range(5):
        history(MailingFactory(owner=owner), occurrences=19, deliveries=2)
    many = queries_for(client, reverse("reports"))
    assert few == many


# --- isolation and roles ------------------------------------------------------------------------------


def test_another_owners_report_export_and_retry_are_404_and_nothing_changes_R_AUTH_4(client, owner, smtp):
    stranger = UserFactory()
    theirs, their_occurrence, _ = sent_with_one_refusal(stranger, smtp)
    mine = MailingFactory(owner=owner)
    for url in (
        reverse("mailings:report", args=[theirs.pk]),
        reverse("mailings:report_export", args=[theirs.pk]),
    ):
        assert client.get(url).status_code == 404
    for url in (
        reverse("mailings:retry", args=[theirs.pk, their_occurrence.pk]),
        # their occurrence under my own mailing's URL
        reverse("mailings:retry", args=[mine.pk, their_occurrence.pk]),
    ):
        assert client.post(url).status_code == 404
    assert Delivery.objects.filter(occurrence=their_occurrence, status="failed").count() == 1
    their_occurrence.refresh_from_db()
    assert their_occurrence.finished_at is not None
    assert Mailing.objects.get(pk=theirs.pk).status == "completed"


def test_anonymous_visitors_go_to_the_login_page(client, smtp):
    mailing, occurrence, _ = sent_with_one_refusal(UserFactory(), smtp)
    for url in (
        reverse("reports"),
        reverse("mailings:report", args=[mailing.pk]),
        reverse("mailings:report_export", args=[mailing.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    response = client.post(reverse("mailings:retry", args=[mailing.pk, occurrence.pk]))
    assert response.status_code == 302
    assert Delivery.objects.filter(occurrence=occurrence, status="failed").count() == 1


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client, smtp):
    mailing, occurrence, _ = sent_with_one_refusal(UserFactory(), smtp)
    for role, user in refused_accounts().items():
        client.force_login(user)
        for url in (
            reverse("reports"),
            reverse("mailings:report", args=[mailing.pk]),
            reverse("mailings:report_export", args=[mailing.pk]),
        ):
            assert_refused_page(client.get(url))
        assert client.post(reverse("mailings:retry", args=[mailing.pk, occurrence.pk])).status_code == 403, (
            role
        )
    assert Delivery.objects.filter(occurrence=occurrence, status="failed").count() == 1


def test_retry_failed_comes_back_to_the_report_with_its_filters_and_pages(client, owner, smtp):
    """ "Retry failed" forgot the page's filters; the form carries the report's query string
    and the answer returns to it."""
    mailing, occurrence, refused = sent_with_one_refusal(owner, smtp)
    report = reverse("mailings:report", args=[mailing.pk])
    filters = {"status": "failed", "occurrence": occurrence.pk, "q": "example", "sends": "1"}
    html = client.get(report, filters).content.decode()
    action = reverse("mailings:retry", args=[mailing.pk, occurrence.pk])
    [posted_to] = re.findall(rf'action="({re.escape(action)}[^"]*)"', html)
    posted_to = posted_to.replace("&amp;", "&")
    response = client.post(posted_to)
    assert response.status_code == 302
    assert response["Location"].startswith(report + "?")
    assert QueryDict(response["Location"].split("?", 1)[1]).dict() == {k: str(v) for k, v in filters.items()}
    assert Delivery.objects.get(occurrence=occurrence, client=refused).status == "pending"
    # Without a query string the answer is the bare report.
    assert client.post(action)["Location"] == report


def test_the_attempt_log_shows_the_outcome_and_the_servers_answer_in_cells_of_their_own(
    client, owner, settings, mailoutbox
):
    """The log read "accepted accepted by Django's filebased email backend", our label
    and the server's answer run together. Each attempt is a row: when, the outcome, the answer."""
    settings.EMAIL_HOST = ""
    settings.MAILER_SEND_WORKERS = 1
    mailing = due_mailing(owner=owner, clients=1)
    send_due()
    html = client.get(reverse("mailings:report", args=[mailing.pk])).content.decode()
    attempts = html.split('data-testid="attempts"')[1].split("</table>")[0]
    cells = [
        unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", attempts, flags=re.S)
    ]
    assert cells[1:] == ["accepted", "accepted by the mail server"]
    assert re.search(r'data-testid="attempt-outcome">accepted</td>', attempts)
