"""The delivery log and reports over GraphQL (R-AUTH-4, R-AUTH-5, R-DATA-4, R-SEND-4,
R-UI-9): occurrences, deliveries with their attempt log, attempts, mailingReport, dashboard, serviceStats and
retryFailed — for the owner, another owner, a manager and an anonymous caller."""

import datetime as dt
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings.models import Delivery, DeliveryAttempt, Occurrence
from backend.mailings.sending.engine import send_due
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import ClientFactory, MailingFactory, UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

OCCURRENCES = """
query Occurrences($mailing: ID!) {
  occurrences(mailing: $mailing, first: 10) {
    totalCount
    edges { node { id scheduledFor isManual finishedAt sent failed retrying pending skipped waiting total
                   firstAttemptAt lastAttemptAt mailing { id } } }
  }
}
"""

DELIVERIES = """
query Deliveries($mailing: ID, $occurrence: ID, $status: DeliveryStatus, $first: Int) {
  deliveries(mailing: $mailing, occurrence: $occurrence, status: $status, first: $first) {
    totalCount
    edges {
      node {
        id email status attempts lastAttemptAt nextAttemptAt lastResponse summary sentAt
        occurrence { id scheduledFor }
        attemptLog { attemptedAt outcome smtpCode response summary }
      }
    }
  }
}
"""

DELIVERIES_WITH_COUNTS = """
query DeliveriesWithCounts($first: Int) {
  deliveries(first: $first) {
    edges { node { ...Row } }
  }
}
fragment Row on Delivery { email occurrence { id sent failed } attemptLog { outcome } }
"""

ATTEMPTS = """
query Attempts($delivery: ID!) {
  attempts(delivery: $delivery, first: 20) {
    totalCount
    edges { node { id attemptedAt outcome smtpCode response } }
  }
}
"""

REPORT = """
query Report($id: ID!) {
  mailingReport(id: $id) {
    mailing { id }
    occurrences { id scheduledFor isManual finishedAt sent failed retrying pending skipped
                  firstAttemptAt lastAttemptAt }
    totals { occurrences sent failed retrying pending skipped total firstAttemptAt lastAttemptAt }
  }
}
"""

NODE = """
query Node($id: ID!) { node(id: $id) { id ... on Delivery { email } ... on Occurrence { sent } } }
"""

RETRY = """
mutation Retry($occurrence: ID!) {
  retryFailed(occurrence: $occurrence) {
    queued
    occurrence { id failed pending sent }
    errors { field message code }
  }
}
"""


def gid(obj) -> str:
    return to_global_id(type(obj).__name__, obj.pk)


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def make_log(owner=None, *, statuses=("sent", "sent", "failed", "retrying", "pending", "skipped")):
    """A mailing with one finished and one current occurrence; the current one's deliveries have the given
    statuses, each with one attempt per attempt counted (a 250 for sent, a 550 for failed, a 451 for
    retrying)."""
    owner = owner or UserFactory()
    clients = [ClientFactory(owner=owner) for _ in statuses]
    mailing = MailingFactory(owner=owner, clients=clients, periodicity="daily", status="started")
    now = timezone.now().replace(microsecond=0)
    earlier = Occurrence.objects.create(
        mailing=mailing, scheduled_for=now - dt.timedelta(days=1), finished_at=now - dt.timedelta(hours=23)
    )
    done = Delivery.objects.create(
        mailing=mailing, occurrence=earlier, client=clients[0], email=clients[0].email, status="sent",
        attempts=1, last_attempt_at=earlier.scheduled_for, sent_at=earlier.scheduled_for,
        last_response="250 ok",
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        delivery=done, attempted_at=earlier.scheduled_for, outcome="sent", smtp_code=250, response="250 ok"
    )
    current = Occurrence.objects.create(mailing=mailing, scheduled_for=now - dt.timedelta(minutes=10))
    for index, (client, status) in enumerate(zip(clients, statuses, strict=True)):
        when = current.scheduled_for + dt.timedelta(seconds=index)
        attempts = {"sent": [("sent", 250)], "failed": [("permanent", 550)], "retrying": [("temporary", 451)]}
        log = attempts.get(status, [])
        delivery = Delivery.objects.create(
            mailing=mailing, occurrence=current, client=client, email=client.email, status=status,
            attempts=len(log), last_attempt_at=when if log else None,
            sent_at=when if status == "sent" else None,
            next_attempt_at=when + dt.timedelta(minutes=5) if status == "retrying" else None,
            last_response=f"{log[-1][1]} answer" if log else "",
        )  # fmt: skip
        for outcome, code in log:
            DeliveryAttempt.objects.create(
                delivery=delivery,
                attempted_at=when,
                outcome=outcome,
                smtp_code=code,
                response=f"{code} answer",
            )
    return mailing, earlier, current


def nodes(connection_data: dict) -> list[dict]:
    return [edge["node"] for edge in connection_data["edges"]]


# --- occurrences ------------------------------------------------------------------------------------------


def test_owner_reads_occurrences_with_counts_and_attempt_times_R_SEND_4():
    mailing, earlier, current = make_log()
    data = data_of(OCCURRENCES, {"mailing": gid(mailing)}, user=mailing.owner)["occurrences"]
    assert data["totalCount"] == 2
    latest, first = nodes(data)  # newest first
    assert latest["id"] == gid(current) and first["id"] == gid(earlier)
    counts = {key: latest[key] for key in ("sent", "failed", "retrying", "pending", "skipped", "total")}
    assert counts == {"sent": 2, "failed": 1, "retrying": 1, "pending": 1, "skipped": 1, "total": 6}
    assert latest["firstAttemptAt"] == iso(current.scheduled_for)
    assert latest["lastAttemptAt"] == iso(current.scheduled_for + dt.timedelta(seconds=3))
    assert latest["finishedAt"] is None and latest["mailing"]["id"] == gid(mailing)
    assert (first["sent"], first["total"], first["finishedAt"]) == (1, 1, iso(earlier.finished_at))


def test_another_owners_mailing_id_gives_not_found_for_occurrences_R_AUTH_4():
    mailing, _earlier, _current = make_log()
    _status, body = gql(OCCURRENCES, {"mailing": gid(mailing)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] == {"occurrences": None}
    missing = to_global_id("Mailing", mailing.pk + 1000)
    _status, body_missing = gql(OCCURRENCES, {"mailing": missing}, user=UserFactory())
    assert body_missing["errors"][0]["message"] == body["errors"][0]["message"]


def test_manager_reads_any_mailings_occurrences_R_AUTH_5():
    mailing, _earlier, current = make_log()
    data = data_of(OCCURRENCES, {"mailing": gid(mailing)}, user=make_manager())["occurrences"]
    assert next(node["id"] for node in nodes(data)) == gid(current)


# --- deliveries and their attempt log ---------------------------------------------------------------------


def test_owner_reads_the_delivery_log_with_every_attempt_R_DATA_4():
    mailing, _earlier, current = make_log()
    data = data_of(DELIVERIES, {"mailing": gid(mailing)}, user=mailing.owner)["deliveries"]
    assert data["totalCount"] == 7
    by_status = {}
    for node in nodes(data):
        by_status.setdefault(node["status"], []).append(node)
    assert {key: len(value) for key, value in by_status.items()} == {
        "SENT": 3, "FAILED": 1, "RETRYING": 1, "PENDING": 1, "SKIPPED": 1,
    }  # fmt: skip
    failed = by_status["FAILED"][0]
    stored = Delivery.objects.get(status="failed")
    assert failed == {
        "id": gid(stored),
        "email": stored.email,
        "status": "FAILED",
        "attempts": 1,
        "lastAttemptAt": iso(stored.last_attempt_at),
        "nextAttemptAt": None,
        "lastResponse": None,  # superusers only: test_the_raw_relay_answer_is_for_superusers
        "summary": "the recipient's address was refused",
        "sentAt": None,
        "occurrence": {"id": gid(current), "scheduledFor": iso(current.scheduled_for)},
        "attemptLog": [
            {"attemptedAt": iso(stored.last_attempt_at), "outcome": "PERMANENT", "smtpCode": 550,
             "response": None, "summary": "the recipient's address was refused"},
        ],
    }  # fmt: skip
    retrying = by_status["RETRYING"][0]
    assert retrying["nextAttemptAt"] is not None and retrying["attemptLog"][0]["outcome"] == "TEMPORARY"
    assert by_status["PENDING"][0]["attemptLog"] == []


RELAY_ANSWER = (
    "550 5.1.1 <x@example.org>: Recipient address rejected: User unknown [mx3.relay.internal 10.0.4.7]"
)


def test_the_raw_relay_answer_is_for_superusers():
    """Issue item: the server's own text names relays and internal hosts: through the deliveries, the
    attempts and the dashboard an owner reads null there and the classified `summary`; a superuser (the
    operator) reads the text as received. In Russian, the summary is Russian."""
    mailing, _earlier, current = make_log()
    failed = Delivery.objects.get(occurrence=current, status="failed")
    Delivery.objects.filter(pk=failed.pk).update(last_response=RELAY_ANSWER, last_attempt_at=timezone.now())
    failed.attempt_log.update(response=RELAY_ANSWER[4:])
    variables = {"mailing": gid(mailing), "status": "FAILED"}
    attempts_of = {"delivery": gid(failed)}
    for who, raw in ((mailing.owner, False), (UserFactory(is_superuser=True, is_staff=True), True)):
        (node,) = nodes(data_of(DELIVERIES, variables, user=who)["deliveries"])
        (attempt,) = nodes(data_of(ATTEMPTS, attempts_of, user=who)["attempts"])
        assert node["summary"] == node["attemptLog"][0]["summary"] == "the recipient's address was refused"
        assert node["lastResponse"] == (RELAY_ANSWER if raw else None)
        assert node["attemptLog"][0]["response"] == attempt["response"] == (RELAY_ANSWER[4:] if raw else None)
    dashboard = data_of(DASHBOARD, user=mailing.owner)["dashboard"]
    assert "relay.internal" not in str(dashboard) and "10.0.4.7" not in str(dashboard)
    russian = Client(HTTP_ACCEPT_LANGUAGE="ru")
    (node,) = nodes(data_of(DELIVERIES, variables, user=mailing.owner, client=russian)["deliveries"])
    assert node["summary"] == "адрес получателя отклонён"


def test_deliveries_filter_by_occurrence_and_status():
    mailing, earlier, current = make_log()
    owner = mailing.owner
    data = data_of(DELIVERIES, {"occurrence": gid(earlier)}, user=owner)["deliveries"]
    assert data["totalCount"] == 1 and nodes(data)[0]["occurrence"]["id"] == gid(earlier)
    data = data_of(DELIVERIES, {"mailing": gid(mailing), "status": "SENT"}, user=owner)["deliveries"]
    assert data["totalCount"] == 3 and {node["status"] for node in nodes(data)} == {"SENT"}
    data = data_of(DELIVERIES, {"occurrence": gid(current), "status": "FAILED"}, user=owner)["deliveries"]
    assert data["totalCount"] == 1


def test_deliveries_of_another_owner_are_not_found_and_never_listed_R_AUTH_4():
    mailing, earlier, _current = make_log()
    stranger = UserFactory()
    make_log(stranger)
    for variables in ({"mailing": gid(mailing)}, {"occurrence": gid(earlier)}):
        _status, body = gql(DELIVERIES, variables, user=stranger)
        assert error_codes(body) == ["NOT_FOUND"] and body["data"] == {"deliveries": None}
    data = data_of(DELIVERIES, {}, user=stranger)["deliveries"]
    assert data["totalCount"] == 7
    assert not {node["email"] for node in nodes(data)} & set(
        mailing.deliveries.values_list("email", flat=True)
    )
    delivery = mailing.deliveries.first()
    assert data_of(NODE, {"id": gid(delivery)}, user=stranger) == {"node": None}
    assert data_of(NODE, {"id": gid(earlier)}, user=stranger) == {"node": None}


def test_unknown_status_and_malformed_ids_are_clear_errors_not_500():
    mailing, _earlier, _current = make_log()
    status, body = gql(DELIVERIES, {"status": "LOST"}, user=mailing.owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    status, body = gql(DELIVERIES, {"occurrence": "not-an-id"}, user=mailing.owner)
    assert status == 200 and error_codes(body) == ["NOT_FOUND"]
    status, body = gql(DELIVERIES, {"mailing": gid(mailing), "first": 101}, user=mailing.owner)
    assert error_codes(body) == ["BAD_REQUEST"]


def test_manager_reads_no_delivery_log_R_AUTH_5():
    """R-AUTH-5: a manager oversees every mailing and its counts, but a delivery log lists who it went to — a
    client list by another name — so deliveries and attempts of others' mailings are empty or NOT_FOUND for
    them, as the report pages are refused to them. A superuser reads them."""
    mailing, _earlier, _current = make_log()
    manager = make_manager()
    data = data_of(DELIVERIES, {"mailing": gid(mailing)}, user=manager)["deliveries"]
    assert data["totalCount"] == 0 and nodes(data) == []
    assert data_of("{ deliveries(first: 5) { totalCount } }", user=manager)["deliveries"]["totalCount"] == 0
    delivery = mailing.deliveries.first()
    attempts = "query ($d: ID!) { attempts(delivery: $d) { totalCount } }"
    _status, body = gql(attempts, {"d": to_global_id("Delivery", delivery.pk)}, user=manager)
    assert error_codes(body) == ["NOT_FOUND"]
    root = UserFactory(is_superuser=True)
    data = data_of(DELIVERIES, {"mailing": gid(mailing)}, user=root)["deliveries"]
    assert {node["email"] for node in nodes(data)} == set(mailing.deliveries.values_list("email", flat=True))


def seed_deliveries(count: int):
    """`count` deliveries of one occurrence, each with two attempts."""
    owner = UserFactory()
    clients = [ClientFactory(owner=owner) for _ in range(count)]
    mailing = MailingFactory(owner=owner, clients=clients)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(mailing=mailing, occurrence=occurrence, client=client, email=client.email, status="sent")
            for client in clients
        ]
    )
    now = timezone.now()
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(delivery=delivery, attempted_at=now, outcome=outcome, smtp_code=code)
            for delivery in deliveries
            for outcome, code in (("temporary", 451), ("sent", 250))
        ]
    )
    return owner


def count_queries(query: str, variables: dict, owner) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        data = data_of(query, variables, user=owner)
    return len(queries), data


@pytest.mark.parametrize("query", [DELIVERIES, DELIVERIES_WITH_COUNTS])
def test_deliveries_with_attempts_cost_the_same_queries_for_5_and_100(query):
    small, big = seed_deliveries(5), seed_deliveries(100)
    few, data_small = count_queries(query, {"first": 100}, small)
    many, data_big = count_queries(query, {"first": 100}, big)
    assert len(data_small["deliveries"]["edges"]) == 5 and len(data_big["deliveries"]["edges"]) == 100
    assert all(len(node["attemptLog"]) == 2 for node in nodes(data_big["deliveries"]))
    assert few == many


# --- attempts ---------------------------------------------------------------------------------------------


def test_owner_reads_one_deliverys_attempts_oldest_first_and_others_get_not_found():
    mailing, _earlier, current = make_log()
    delivery = current.deliveries.get(status="retrying")
    later = timezone.now()
    DeliveryAttempt.objects.create(delivery=delivery, attempted_at=later, outcome="sent", smtp_code=250)
    data = data_of(ATTEMPTS, {"delivery": gid(delivery)}, user=mailing.owner)["attempts"]
    assert data["totalCount"] == 2
    assert [(n["outcome"], n["smtpCode"]) for n in nodes(data)] == [("TEMPORARY", 451), ("SENT", 250)]
    _status, body = gql(ATTEMPTS, {"delivery": gid(delivery)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] == {"attempts": None}
    _status, body = gql(ATTEMPTS, {"delivery": gid(delivery)}, user=make_manager())
    assert error_codes(body) == ["NOT_FOUND"]  # R-AUTH-5: no recipients for a manager
    status, body = gql(ATTEMPTS, {"delivery": gid(delivery)})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


# --- mailingReport ----------------------------------------------------------------------------------------


def test_mailing_report_has_per_occurrence_counts_and_totals_for_a_chart_R_UI_9():
    mailing, earlier, current = make_log()
    report = data_of(REPORT, {"id": gid(mailing)}, user=mailing.owner)["mailingReport"]
    assert report["mailing"] == {"id": gid(mailing)}
    assert [occ["id"] for occ in report["occurrences"]] == [gid(earlier), gid(current)]  # oldest first
    first, second = report["occurrences"]
    assert (first["sent"], first["failed"], first["isManual"]) == (1, 0, False)
    assert (second["sent"], second["failed"], second["retrying"], second["pending"], second["skipped"]) == (
        2, 1, 1, 1, 1,
    )  # fmt: skip
    assert report["totals"] == {
        "occurrences": 2, "sent": 3, "failed": 1, "retrying": 1, "pending": 1, "skipped": 1, "total": 7,
        "firstAttemptAt": iso(earlier.scheduled_for),
        "lastAttemptAt": iso(current.scheduled_for + dt.timedelta(seconds=3)),
    }  # fmt: skip


def test_mailing_report_of_a_mailing_never_sent_is_empty():
    mailing = MailingFactory()
    report = data_of(REPORT, {"id": gid(mailing)}, user=mailing.owner)["mailingReport"]
    assert report["occurrences"] == []
    assert report["totals"]["total"] == 0 and report["totals"]["firstAttemptAt"] is None


def test_mailing_report_refusals_R_AUTH_4_and_manager_R_AUTH_5():
    mailing, _earlier, _current = make_log()
    status, body = gql(REPORT, {"id": gid(mailing)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] is None
    status, body = gql(REPORT, {"id": gid(mailing)})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    report = data_of(REPORT, {"id": gid(mailing)}, user=make_manager())["mailingReport"]
    assert report["totals"]["total"] == 7


def test_mailing_report_costs_the_same_queries_for_2_and_12_occurrences():
    small, _e, _c = make_log()
    big, _e, _c = make_log()
    for day in range(2, 12):
        Occurrence.objects.create(mailing=big, scheduled_for=timezone.now() - dt.timedelta(days=day))
    few, _data = count_queries(REPORT, {"id": gid(small)}, small.owner)
    many, data = count_queries(REPORT, {"id": gid(big)}, big.owner)
    assert len(data["mailingReport"]["occurrences"]) == 12
    assert few == many


# --- retryFailed ------------------------------------------------------------------------------------------


def test_retry_failed_end_to_end_550_then_accepted_R_SEND_5(smtp):
    """A recipient refused with 550 fails for good; after retryFailed the engine sends it again, the server
    accepts, and the log shows both attempts (a new attempt series; the old one stays)."""
    mailing = due_mailing(clients=2)
    bad = mailing.clients.order_by("pk").first()
    smtp.set(reject={bad.email.lower()})
    summary = send_due()
    assert (summary.sent, summary.failed) == (1, 1)
    occurrence = mailing.occurrences.get()
    smtp.set(reject=set())

    payload = data_of(RETRY, {"occurrence": gid(occurrence)}, user=mailing.owner)["retryFailed"]
    assert payload == {
        "queued": 1,
        "occurrence": {"id": gid(occurrence), "failed": 0, "pending": 1, "sent": 1},
        "errors": [],
    }
    assert send_due().sent == 1
    assert sorted(smtp.recipients()) == sorted(mailing.clients.values_list("email", flat=True))

    data = data_of(DELIVERIES, {"occurrence": gid(occurrence), "status": "SENT"}, user=mailing.owner)
    retried = next(node for node in nodes(data["deliveries"]) if node["email"] == bad.email)
    assert [(a["outcome"], a["smtpCode"]) for a in retried["attemptLog"]] == [
        ("PERMANENT", 550),
        ("SENT", 250),
    ]
    assert retried["attempts"] == 1  # the new series' count
    report = data_of(REPORT, {"id": gid(mailing)}, user=mailing.owner)["mailingReport"]
    assert (report["totals"]["sent"], report["totals"]["failed"]) == (2, 0)


def test_retry_failed_with_nothing_failed_returns_the_domains_code():
    mailing, earlier, _current = make_log()
    payload = data_of(RETRY, {"occurrence": gid(earlier)}, user=mailing.owner)["retryFailed"]
    assert payload["queued"] is None and [error["code"] for error in payload["errors"]] == [
        "nothing_to_retry"
    ]


def test_retry_failed_of_a_disabled_mailing_is_refused_with_its_code():
    mailing, _earlier, current = make_log()
    mailing.is_active = False
    mailing.save()
    payload = data_of(RETRY, {"occurrence": gid(current)}, user=mailing.owner)["retryFailed"]
    assert [error["code"] for error in payload["errors"]] == ["mailing_disabled"]
    assert current.deliveries.filter(status="failed").count() == 1


def test_retry_failed_by_another_owner_or_a_manager_changes_nothing_R_AUTH_4_R_AUTH_5():
    _mailing, _earlier, current = make_log()
    before = list(current.deliveries.order_by("pk").values_list("status", "attempts"))
    status, body = gql(RETRY, {"occurrence": gid(current)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] == {"retryFailed": None}
    status, body = gql(RETRY, {"occurrence": gid(current)}, user=make_manager())
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] == {"retryFailed": None}
    status, body = gql(RETRY, {"occurrence": gid(current)})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert list(current.deliveries.order_by("pk").values_list("status", "attempts")) == before


# --- dashboard and serviceStats ---------------------------------------------------------------------------

DASHBOARD = """
query {
  dashboard {
    clients subscribedClients messages mailings activeMailings sent failed
    nextSends { nextRunAt mailing { id } }
    recentFailures { email lastResponse summary mailing { id } }
  }
}
"""

SERVICE_STATS = """
query {
  serviceStats {
    users verifiedUsers blockedUsers mailings mailingsStarted activeMailings sentToday failedToday
    perDay { date sent failed }
  }
}
"""


def test_dashboard_shows_only_the_owners_own_totals_R_AUTH_4():
    mailing, _earlier, current = make_log()
    make_log()  # another owner's data counts for nothing here
    Delivery.objects.filter(occurrence=current, status="failed").update(last_attempt_at=timezone.now())
    data = data_of(DASHBOARD, user=mailing.owner)["dashboard"]
    assert (data["clients"], data["mailings"], data["sent"], data["failed"]) == (6, 1, 3, 1)
    assert [row["mailing"]["id"] for row in data["recentFailures"]] == [gid(mailing)]
    assert data["recentFailures"][0]["lastResponse"] is None
    assert data["recentFailures"][0]["summary"] == "the recipient's address was refused"
    stranger = data_of(DASHBOARD, user=UserFactory())["dashboard"]
    assert (stranger["clients"], stranger["mailings"], stranger["sent"], stranger["recentFailures"]) == (
        0, 0, 0, [],
    )  # fmt: skip
    status, body = gql(DASHBOARD)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_service_stats_for_managers_and_superusers_only_R_AUTH_5_R_UI_8():
    _mailing, _earlier, current = make_log()
    today = timezone.now()
    DeliveryAttempt.objects.filter(delivery__occurrence=current).update(attempted_at=today)
    manager = make_manager()
    data = data_of(SERVICE_STATS, user=manager)["serviceStats"]
    assert data["users"] == 2 and data["mailings"] == 1 and data["mailingsStarted"] == 1
    assert (data["sentToday"], data["failedToday"]) == (2, 2)  # a 550 and a 451 attempt
    assert len(data["perDay"]) == 30
    assert data["perDay"][-1] == {
        "date": today.astimezone(manager.tz).date().isoformat(),
        "sent": 2,
        "failed": 2,
    }
    superuser = UserFactory(is_superuser=True, is_staff=True)
    assert data_of(SERVICE_STATS, user=superuser)["serviceStats"]["users"] == 3
    status, body = gql(SERVICE_STATS, user=UserFactory())
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] is None
    status, body = gql(SERVICE_STATS)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_anonymous_gets_unauthenticated_for_every_log_query_R_AUTH_4():
    mailing, earlier, _current = make_log()
    for query, variables in (
        (OCCURRENCES, {"mailing": gid(mailing)}),
        (DELIVERIES, {"occurrence": gid(earlier)}),
        (NODE, {"id": gid(earlier)}),
    ):
        status, body = gql(query, variables)
        assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"], query


def test_waiting_is_pending_plus_retrying():
    mailing, earlier, current = make_log()
    edges = data_of(OCCURRENCES, {"mailing": gid(mailing)}, user=mailing.owner)["occurrences"]["edges"]
    counts = {edge["node"]["id"]: edge["node"] for edge in edges}
    assert [(counts[gid(occ)]["pending"], counts[gid(occ)]["retrying"]) for occ in (earlier, current)] == [
        (0, 0),
        (1, 1),
    ]
    assert [counts[gid(occ)]["waiting"] for occ in (earlier, current)] == [0, 2]


def test_occurrences_page_costs_the_same_queries_for_2_and_12_occurrences():
    small, _e, _c = make_log()
    big, _e, _c = make_log()
    for day in range(2, 12):
        Occurrence.objects.create(mailing=big, scheduled_for=timezone.now() - dt.timedelta(days=day))
    few, _data = count_queries(OCCURRENCES, {"mailing": gid(small)}, small.owner)
    many, data = count_queries(OCCURRENCES, {"mailing": gid(big)}, big.owner)
    assert len(data["occurrences"]["edges"]) == 10
    assert few == many


# --- the pages' own operations (graphql/operations/) ------------------------------------------------------


def operation(name: str) -> str:
    return (Path(__file__).resolve().parents[2] / "graphql" / "operations" / name).read_text(encoding="utf-8")


def test_the_pages_operations_answer_the_owner_R_UI_9():
    """What the owner's pages send: the live progress bar, the report chart and the dashboard."""
    mailing, _earlier, current = make_log()
    progress = data_of(operation("mailingProgress.graphql"), {"id": gid(mailing)}, user=mailing.owner)
    latest = progress["mailing"]["lastOccurrence"]
    assert latest["id"] == gid(current)
    # The bar's "waiting" part is the API's one sum of pending and retrying.
    assert (latest["sent"], latest["failed"], latest["waiting"]) == (2, 1, 2)
    report = data_of(operation("mailingReport.graphql"), {"id": gid(mailing)}, user=mailing.owner)
    assert [occ["sent"] for occ in report["mailingReport"]["occurrences"]] == [1, 2]
    assert report["mailingReport"]["mailing"]["message"]["subject"] == mailing.message.subject
    dashboard = data_of(operation("dashboard.graphql"), user=mailing.owner)["dashboard"]
    assert (dashboard["mailings"], dashboard["sent"]) == (1, 3)
    _status, body = gql(operation("mailingReport.graphql"), {"id": gid(mailing)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"]
