"""The account-email outbox: requests write a row, the scheduler sends.

Sending a sign-up link or a password reset inside the request made a registered address answer in 0.5 s and
an unknown one in 0.007 s. Now a request for one of these emails only inserts an `AccountEmail` row, the same
statement whatever the address, and `send_account_mail` (a scheduler job every MAILER_TICK_SECONDS, and the
`send_account_mail` command) looks the address up, renders and sends.

Like the engine's queue, rows are leased: a claim locks a few due rows (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL, so any number of schedulers share the table), stamps them with a lease token and moves their
`next_try` past the lease; a result is only recorded on a row that still carries that token. A row is sent
once: a scheduler killed mid-pass leaves its rows due again when the lease ends (what it had already handed
to the server but not recorded, at most one message, may go again). The mail server down: the row stays,
its next try is backed off (MAILER_RETRY_BASE_SECONDS doubling, at most ten minutes: a person is waiting),
and the rest of the pass waits with it instead of knocking on a dead server; a recipient refused for good
(5xx) fails the row. A row not sent before its link would expire fails instead of arriving uselessly late.
Finished rows are deleted ACCOUNT_EMAIL_KEEP_DAYS later. No body is ever stored: it is rendered when sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
import uuid
from dataclasses import dataclass, fields
from typing import Protocol

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation

from .emails import compose
from .models import AccountEmail, User

logger = logging.getLogger(__name__)

Kind = AccountEmail.Kind
Status = AccountEmail.Status

CLAIM_BATCH = 20
RETRY_MAX_SECONDS = 600.0
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class Stop(Protocol):
    def is_set(self) -> bool: ...


def _lifetime(kind: str) -> dt.timedelta:
    """How long the link of a `kind` email works: sent any later, it would be of no use."""
    if kind in (Kind.PASSWORD_RESET, Kind.CMS_PASSWORD_RESET):
        return dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    return dt.timedelta(days=settings.EMAIL_VERIFICATION_DAYS)


def enqueue(*, kind: str, address: str) -> AccountEmail:
    """Ask the scheduler to send a `kind` email about `address`, in the current language: one INSERT, the
    same for any address, registered or not."""
    now = timezone.now()
    return AccountEmail.objects.create(
        kind=kind,
        recipient=User.objects.normalize_email(address),
        language=translation.get_language() or settings.LANGUAGE_CODE,
        created=now,
        next_try=now,
        expires=now + _lifetime(kind),
    )


@dataclass
class OutboxSummary:
    sent: int = 0
    nothing_to_send: int = 0
    retrying: int = 0
    failed: int = 0
    given_back: int = 0
    purged: int = 0

    @property
    def busy(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))

    def __str__(self) -> str:
        return ", ".join(
            f"{field.name.replace('_', ' ')} {getattr(self, field.name)}" for field in fields(self)
        )


@dataclass(frozen=True)
class _Failure:
    text: str
    permanent: bool = False
    server_down: bool = False  # the server itself failed, not this message: the rest of the pass waits


def _reply(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _failure(exc: Exception) -> _Failure:
    """A 5xx for this recipient or this message is final; a 4xx for it is retried; anything else (refused or
    dropped connection, timeout, a greeting, login or sender refusal) is the server's and is retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))
        return _Failure(f"{code} {_reply(reply)}"[:1000], permanent=500 <= code < 600)
    if isinstance(exc, smtplib.SMTPDataError):
        return _Failure(f"{exc.smtp_code} {_reply(exc.smtp_error)}"[:1000], permanent=exc.smtp_code >= 500)
    return _Failure(f"{type(exc).__name__}: {exc}"[:1000], server_down=True)


def _backoff(attempts: int) -> dt.timedelta:
    """After the `attempts`-th failure: MAILER_RETRY_BASE_SECONDS doubling, capped, +-20% so that rows that
    failed together do not all come back at once."""
    cap = min(settings.MAILER_RETRY_MAX_SECONDS, RETRY_MAX_SECONDS)
    base = settings.MAILER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(base, cap) * random.uniform(0.8, 1.2))  # noqa: S311


def _email_connection() -> BaseEmailBackend:
    """SMTP whenever EMAIL_HOST is set, as the engine sends (transport.py); else Django's configured backend
    (files in var/outbox/ in development, mail.outbox in tests). Each message opens its own session."""
    backend = SMTP_BACKEND if settings.EMAIL_HOST else None
    return get_connection(backend, fail_silently=False)


def _claim(now: dt.datetime) -> tuple[list[int], str]:
    """Lease up to CLAIM_BATCH rows due at `now`. The UPDATE only takes rows still due and unleased, so two
    claimers on a database without SKIP LOCKED (SQLite) still never share a row."""
    token = uuid.uuid4().hex
    due = AccountEmail.objects.filter(status=Status.PENDING, next_try__lte=now)
    with transaction.atomic():
        queryset = due.order_by("next_try", "pk")
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True, of=("self",))
        pks = list(queryset.values_list("pk", flat=True)[:CLAIM_BATCH])
        if not pks:
            return [], token
        lease_until = now + dt.timedelta(seconds=settings.MAILER_CLAIM_LEASE_SECONDS)
        due.filter(pk__in=pks).update(lease=token, next_try=lease_until)
    return list(
        AccountEmail.objects.filter(pk__in=pks, lease=token).order_by("pk").values_list("pk", flat=True)
    ), token


def _record(pk: int, lease: str, **changes) -> bool:
    """Write a result on a row this pass still holds; False when another pass took it over."""
    return AccountEmail.objects.filter(pk=pk, lease=lease).update(lease="", **changes) == 1


def _give_back(pks: list[int], lease: str, *, next_try: dt.datetime) -> int:
    """Rows this pass claimed and did not try: due again at `next_try`, no attempt counted."""
    return AccountEmail.objects.filter(pk__in=pks, lease=lease).update(lease="", next_try=next_try)


def purge_account_mail(*, now: dt.datetime | None = None) -> int:
    """Delete the rows finished more than ACCOUNT_EMAIL_KEEP_DAYS ago."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.ACCOUNT_EMAIL_KEEP_DAYS)
    deleted, _by_model = AccountEmail.objects.filter(finished__lt=cutoff).delete()
    return deleted


def _send_one(
    row: AccountEmail, lease: str, email: BaseEmailBackend, summary: OutboxSummary
) -> dt.datetime | None:
    """Compose and send one row and record what became of it. When the server itself failed, the time until
    which it is left alone (this row's next try)."""
    now = timezone.now()
    if row.expires <= now:
        logger.warning("account email %s (%s) expired unsent: %s", row.pk, row.kind, row.last_error or "-")
        if _record(
            row.pk, lease, status=Status.FAILED, finished=now, last_error="expired before it was sent"
        ):
            summary.failed += 1
        return None
    try:
        with translation.override(row.language):
            messages = compose(row.kind, row.recipient)
    except Exception as exc:  # a bug or a database error in one row must not stop the others
        logger.exception("account email %s (%s) could not be composed", row.pk, row.kind)
        # A passing database error is worth a few tries, a bug is not worth a thousand until the link expires.
        gives_up = row.attempts + 1 >= settings.MAILER_MAX_ATTEMPTS
        failure = _Failure(f"not composed: {type(exc).__name__}: {exc}"[:1000], permanent=gives_up)
    else:
        if not messages:
            # No account this email applies to: the address someone typed is not kept.
            if _record(row.pk, lease, status=Status.NOTHING_TO_SEND, recipient="", finished=now):
                summary.nothing_to_send += 1
            return None
        try:
            for message in messages:
                message.connection = email
                message.send()
        except Exception as exc:  # every backend failure is classified, none stops the scheduler
            failure = _failure(exc)
        else:
            done = timezone.now()
            if _record(
                row.pk,
                lease,
                status=Status.SENT,
                attempts=F("attempts") + 1,
                sent_at=done,
                finished=done,
                last_error="",
            ):
                summary.sent += 1
            return None
    attempts = row.attempts + 1
    next_try = now + _backoff(attempts)
    logger.warning(
        "account email %s (%s) not sent (attempt %d): %s", row.pk, row.kind, attempts, failure.text
    )
    if failure.permanent or next_try >= row.expires:
        if _record(
            row.pk, lease, status=Status.FAILED, attempts=attempts, finished=now, last_error=failure.text
        ):
            summary.failed += 1
    elif _record(row.pk, lease, attempts=attempts, next_try=next_try, last_error=failure.text):
        summary.retrying += 1
    return next_try if failure.server_down else None


def send_account_mail(*, stop: Stop | None = None) -> OutboxSummary:
    """One pass over the due account emails (the scheduler's job, the `send_account_mail` command)."""
    summary = OutboxSummary(purged=purge_account_mail())
    email = _email_connection()
    started = timezone.now()  # a row retried in this pass (no backoff configured) waits for the next pass
    while not (stop and stop.is_set()):
        pks, lease = _claim(started)
        if not pks:
            break
        # Sends start only in the first half of the lease, so none is still running when the lease ends.
        deadline = time.monotonic() + settings.MAILER_CLAIM_LEASE_SECONDS / 2
        rows = {row.pk: row for row in AccountEmail.objects.filter(pk__in=pks, lease=lease)}
        for index, pk in enumerate(pks):
            if (stop and stop.is_set()) or time.monotonic() > deadline:
                summary.given_back += _give_back(pks[index:], lease, next_try=timezone.now())
                return summary
            down_until = _send_one(rows[pk], lease, email, summary) if pk in rows else None
            if down_until is not None:
                # The server is down: the rest of the batch waits as long as the row that found it down.
                summary.given_back += _give_back(pks[index + 1 :], lease, next_try=down_until)
                return summary
        if len(pks) < CLAIM_BATCH:
            break
    return summary
