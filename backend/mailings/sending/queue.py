"""The lease protocol (R-SEND-7), all of it: claim, renew, release and record.

A claim locks a small batch of due deliveries (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so any
number of passes share the queue; SQLite serialises writers), marks them with a fresh lease token and moves
their `next_attempt_at` past the lease. Renewing, releasing and recording only touch rows that still carry
that token, so a worker that stalled past its lease can neither send on nor record over the pass that took
its deliveries over. A killed sender's deliveries are due again when its lease ends.

Daily quotas (R-DLV-5, limits.py): in the same transaction a claim counts the deliveries it hands to the
server on each owner's count of the day, its row locked, and keeps back those over the quota, due at the
owner's next midnight. Deliveries given back untried (`release`) are taken off the count again; those given
back while possibly in flight (`release_leases`) or left by a killed sender stay counted, so a crash can make
an owner send fewer than their quota that day, never more.

Recording takes a worker's last few answers (worker.py's `Unrecorded`: at most MAILER_RECORD_BATCH, so
with W workers at most W x MAILER_RECORD_BATCH messages are ever accepted by the server and not yet marked
sent: what a crash can repeat). It skips the ORM: on PostgreSQL one statement writes the deliveries' new
states and their attempts (an UPDATE ... FROM (VALUES ...) RETURNING feeding the INSERT); elsewhere two
statements per delivery in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, QuerySet

from .. import answers, limits, selectors
from ..models import Delivery, DeliveryAttempt, Mailing, Occurrence
from .policy import NextState

_DELIVERY = Delivery._meta.db_table
_ATTEMPT = DeliveryAttempt._meta.db_table
# PostgreSQL: several deliveries' new states and their attempts in one statement, atomic by itself. A row
# whose lease was lost (its claim token changed) is neither updated nor logged; RETURNING names the rest.
_RECORD_PG_ROW = (
    "(%s::bigint, %s::text, %s::text, %s::integer, %s::timestamptz, %s::timestamptz, %s::text, "
    "%s::timestamptz, %s::text, %s::integer, %s::text)"
)
_RECORD_PG = f"""
WITH v (id, lease, status, attempts, at, next_at, answer, sent_at, outcome, code, response) AS (
    VALUES {{rows}}
), u AS (
    UPDATE {_DELIVERY} AS d SET status = v.status, attempts = v.attempts, last_attempt_at = v.at,
        next_attempt_at = v.next_at, last_response = v.answer, sent_at = v.sent_at, claim_token = ''
    FROM v WHERE d.id = v.id AND d.claim_token = v.lease RETURNING d.id
)
INSERT INTO {_ATTEMPT} (delivery_id, attempted_at, outcome, smtp_code, response)
SELECT v.id, v.at, v.outcome, v.code, v.response FROM v JOIN u ON u.id = v.id
RETURNING delivery_id
"""
_UPDATE = (
    f"UPDATE {_DELIVERY} SET status = %s, attempts = %s, last_attempt_at = %s, next_attempt_at = %s, "
    "last_response = %s, sent_at = %s, claim_token = '' WHERE id = %s AND claim_token = %s"
)
_INSERT = (
    f"INSERT INTO {_ATTEMPT} (delivery_id, attempted_at, outcome, smtp_code, response) "
    "VALUES (%s, %s, %s, %s, %s)"
)
SKIPPED_RESPONSE = (
    answers.NO_LONGER_RECIPIENT + " (unsubscribed, removed from the mailing or its owner's list)"
)
NEVER_RECEIVES_RESPONSE = answers.NOT_SENT + "the .invalid domain never receives mail (RFC 2606)"


def never_receives(email: str) -> bool:
    """An address in the reserved `.invalid` top-level domain (RFC 2606, RFC 6761: it never resolves), such
    as the demo's: skipped before SMTP, so a demo or a test list cannot reach a real server's queue."""
    domain = email.rpartition("@")[2].rstrip(".").lower()
    return domain == "invalid" or domain.endswith(".invalid")


@dataclass(frozen=True)
class Job:
    """One claimed delivery: who to send to, and the lease under which its result may be recorded."""

    pk: int
    occurrence_id: int
    email: str
    full_name: str
    token: str
    attempts: int
    lease: str
    owner_id: int = 0
    # The owner's day whose quota count this delivery was taken on (`limits.take_quota`).
    quota_day: dt.date | None = None


@dataclass(frozen=True)
class Claim:
    jobs: list[Job]
    skipped: int  # deliveries found no longer a recipient and marked skipped
    deferred: int = 0  # deliveries kept back by their owner's daily quota until the owner's next day


def lock_rows(queryset: QuerySet) -> QuerySet:
    """Row locks that other passes skip instead of waiting for (PostgreSQL); SQLite serialises writers."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def _sendable_occurrences(occurrence_ids: list[int] | None) -> dict[int, Mailing]:
    """Occurrences with work left whose mailing may be sent now (R-SEND-8: `sendable_mailings`, the one
    definition), each with a stand-in for its mailing (pk, owner and audience) to ask `recipients_of`."""
    occurrences = Occurrence.objects.filter(
        finished_at__isnull=True, mailing__in=selectors.sendable_mailings().values("pk")
    )
    if occurrence_ids is not None:
        occurrences = occurrences.filter(pk__in=occurrence_ids)
    rows = occurrences.values_list(
        "pk", "mailing_id", "mailing__owner_id", "mailing__audience", "mailing__tag_match"
    )
    return {
        pk: Mailing(pk=mailing_id, owner_id=owner_id, audience=audience, tag_match=tag_match)
        for pk, mailing_id, owner_id, audience, tag_match in rows
    }


def _still_recipients(rows: list[dict], mailings: dict[int, Mailing]) -> dict[int, str]:
    """The claimed clients that are still recipients of their mailing, with the address that rule judged: the
    same rule as materialising (`selectors.recipients_of`), so a client who unsubscribed, left the mailing,
    was moved to another owner, or whose address unsubscribed from this owner since the occurrence started is
    not sent to. The address comes from this same query (not the earlier locking read), so an edit between
    the two statements cannot send to an address the rule never saw."""
    wanted: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row["client_id"] is not None:
            wanted[row["occurrence_id"]].append(row["client_id"])
    by_mailing: dict[int, tuple[Mailing, set[int]]] = {}
    for occurrence_id, client_ids in wanted.items():
        mailing = mailings[occurrence_id]
        by_mailing.setdefault(mailing.pk, (mailing, set()))[1].update(client_ids)
    kept: dict[int, str] = {}
    for mailing, client_ids in by_mailing.values():
        kept.update(selectors.recipients_of(mailing).filter(pk__in=client_ids).values_list("pk", "email"))
    return kept


def claim(
    *, now: dt.datetime, occurrence_ids: list[int] | None, batch: int, lease_until: dt.datetime
) -> Claim:
    """Lease up to `batch` deliveries due at `now` (of `occurrence_ids` only, when given)."""
    mailings = _sendable_occurrences(occurrence_ids)
    if not mailings:
        return Claim([], 0)
    # No joins to mailings or users here: the queue's partial index answers this on its own.
    queue = Delivery.objects.filter(
        occurrence_id__in=list(mailings),
        status__in=Delivery.PENDING_STATUSES,
        next_attempt_at__lte=now,
    )
    with transaction.atomic():
        rows = list(
            lock_rows(queue.order_by("next_attempt_at", "pk")).values(
                "pk",
                "occurrence_id",
                "client_id",
                "email",
                "attempts",
                full_name=F("client__full_name"),
                token=F("client__unsubscribe_token"),
            )[:batch]
        )
        if not rows:
            return Claim([], 0)
        lease = uuid.uuid4().hex
        Delivery.objects.filter(pk__in=[row["pk"] for row in rows]).update(
            next_attempt_at=lease_until, claim_token=lease
        )
        kept = _still_recipients(rows, mailings)
        unreachable = {client for client, email in kept.items() if never_receives(email)}
        kept = {client: email for client, email in kept.items() if client not in unreachable}
        reserved = [row["pk"] for row in rows if row["client_id"] in unreachable]
        gone = [
            row["pk"] for row in rows if row["client_id"] not in kept and row["client_id"] not in unreachable
        ]
        allowances, deferred = _within_quota(rows, kept, mailings, now)
        if gone:
            Delivery.objects.filter(pk__in=gone).update(
                status=Delivery.Status.SKIPPED,
                next_attempt_at=None,
                claim_token="",
                last_response=SKIPPED_RESPONSE,
            )
        if reserved:
            Delivery.objects.filter(pk__in=reserved).update(
                status=Delivery.Status.SKIPPED,
                next_attempt_at=None,
                claim_token="",
                last_response=NEVER_RECEIVES_RESPONSE,
            )
        # A kept delivery goes to the client's current address, the one `recipients_of` just judged (an
        # owner may have corrected it since the delivery was queued), and its log says so; a bounce marked
        # on it was about the old address. A skipped one keeps the address it was queued for: the client
        # may now be another owner's.
        for row in rows:
            if row["client_id"] in kept and kept[row["client_id"]] != row["email"]:
                Delivery.objects.filter(pk=row["pk"]).update(email=kept[row["client_id"]], bounced_at=None)
    jobs = [
        Job(
            pk=row["pk"],
            occurrence_id=row["occurrence_id"],
            email=kept[row["client_id"]],
            full_name=row["full_name"],
            token=row["token"],
            attempts=row["attempts"],
            lease=lease,
            owner_id=mailings[row["occurrence_id"]].owner_id,
            quota_day=allowances[mailings[row["occurrence_id"]].owner_id].day,
        )
        for row in rows
        if row["client_id"] in kept and row["pk"] not in deferred
    ]
    return Claim(jobs, len(gone) + len(reserved), len(deferred))


def _within_quota(
    rows: list[dict], kept: dict[int, str], mailings: dict[int, Mailing], now: dt.datetime
) -> tuple[dict[int, limits.Allowance], set[int]]:
    """Count the claimed deliveries still to be sent on their owners' daily quotas (R-DLV-5) and keep back
    those over it: pending, due at the owner's next midnight (so no pass takes them again before); their
    last answer stays the server's (the mailing page says why they wait). Returns each owner's allowance
    and the ids kept back. Runs in the claim's transaction, which holds the owners' count rows locked until
    the claim is committed."""
    by_owner: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row["client_id"] in kept:
            by_owner[mailings[row["occurrence_id"]].owner_id].append(row["pk"])
    if not by_owner:
        return {}, set()
    allowances = limits.take_quota({owner: len(pks) for owner, pks in by_owner.items()}, now)
    deferred: set[int] = set()
    for owner, pks in by_owner.items():
        allowance = allowances[owner]
        over = pks[allowance.allowed :]
        if over:
            Delivery.objects.filter(pk__in=over).update(next_attempt_at=allowance.resumes_at, claim_token="")
            deferred.update(over)
    return allowances, deferred


def renew(jobs: list[Job], *, lease_until: dt.datetime) -> list[Job]:
    """Extend the lease of the deliveries still in hand (a slow server must not let another pass take
    them) and return those that are still ours; any whose lease already ran out is dropped, unsent."""
    if not jobs:
        return jobs
    ours = Delivery.objects.filter(
        pk__in=[job.pk for job in jobs], claim_token=jobs[0].lease, status__in=Delivery.PENDING_STATUSES
    )
    if ours.update(next_attempt_at=lease_until) == len(jobs):
        return jobs
    kept = set(ours.values_list("pk", flat=True))
    return [job for job in jobs if job.pk in kept]


def release(jobs: list[Job], *, due_at: dt.datetime) -> int:
    """Give back deliveries taken but not tried (the breaker opened, the process is stopping): due again
    at `due_at`. Returns how many were still ours to give back."""
    if not jobs:
        return 0
    groups: dict[tuple[int, dt.date | None], list[int]] = defaultdict(list)
    for job in jobs:
        groups[(job.owner_id, job.quota_day)].append(job.pk)
    released = 0
    with transaction.atomic():
        # In owner order, as the claim locks the quota rows: two workers never wait on each other's.
        for (owner_id, day), pks in sorted(groups.items(), key=lambda item: (item[0][0], str(item[0][1]))):
            count = Delivery.objects.filter(pk__in=pks, claim_token=jobs[0].lease).update(
                next_attempt_at=due_at
            )
            # Untried: they do not use the owner's quota (they are counted again when claimed again).
            if day is not None:
                limits.give_back(owner_id, day, count)
            released += count
    return released


def release_leases(leases: list[str], *, due_at: dt.datetime) -> int:
    """Give back every delivery still held under `leases`, including those a worker is sending right now
    (a process stopping before its sends return): due again at `due_at`. The token stays, so a send that
    returns before another pass takes the delivery is still recorded; one that returns after is a message
    in flight, which the crash rule (R-SEND-7) allows to be repeated. Returns how many were given back.
    These stay counted on their owners' daily quotas (R-DLV-5): some may have reached the server, and the
    quota errs on the side of sending less, never more."""
    if not leases:
        return 0
    return Delivery.objects.filter(claim_token__in=leases, status__in=Delivery.PENDING_STATUSES).update(
        next_attempt_at=due_at
    )


@dataclass(frozen=True)
class Result:
    """One attempt to record: the delivery, its new state, and the server's answer at `at`."""

    job: Job
    state: NextState
    at: dt.datetime
    outcome: str
    code: int | None
    text: str


def record(results: list[Result]) -> set[int]:
    """Write the attempts and the deliveries' new states, all in one transaction (on PostgreSQL one
    statement). Returns the ids of the deliveries recorded; one missing had lost its lease (another pass
    took it over while it was in flight) and that pass records its own attempt."""
    if not results:
        return set()
    adapt = connection.ops.adapt_datetimefield_value  # raw SQL: store dates exactly as the ORM does
    rows = []
    for r in results:
        at = adapt(r.at)
        answer = f"{r.code} {r.text}" if r.code else r.text
        state = r.state
        next_at, sent_at = adapt(state.next_attempt_at), adapt(state.sent_at)
        delivery = (r.job.pk, r.job.lease, state.status, state.attempts, at, next_at, answer, sent_at)
        rows.append((*delivery, r.outcome, r.code, r.text))
    if connection.vendor == "postgresql":
        sql = _RECORD_PG.format(rows=", ".join([_RECORD_PG_ROW] * len(rows)))
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in rows for value in row])
            return {pk for (pk,) in cursor.fetchall()}
    recorded = set()
    with transaction.atomic(), connection.cursor() as cursor:
        for pk, lease, status, attempts, at, next_at, answer, sent_at, outcome, code, text in rows:
            cursor.execute(_UPDATE, [status, attempts, at, next_at, answer, sent_at, pk, lease])
            if cursor.rowcount == 1:
                cursor.execute(_INSERT, [pk, at, outcome, code, text])
                recorded.add(pk)
    return recorded
