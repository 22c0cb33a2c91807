"""Writes. Each service checks its actor (R-AUTH-4, R-AUTH-5) and is atomic.

Rules:
- an owner (active, not blocked) creates, edits and deletes their own clients, messages and mailings;
- a manager (`view_all_mailings`) edits nothing of anyone's, themselves included; with `disable_mailing`
  they disable and re-enable any mailing;
- a superuser may do everything; edits of another owner's objects stay within that owner's lists;
- a blocked or inactive user may do nothing.
Refusals raise `PermissionDenied`; invalid input raises `FormInvalid` carrying the bound form, so a page can
re-render it and GraphQL can return its errors per field.
"""

import enum
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backend.accounts import ratelimit
from backend.accounts.models import User
from backend.accounts.selectors import is_content_editor
from backend.accounts.services import user_can_act

from . import scheduling, selectors
from .errors import ErrorCode
from .forms import ClientForm, MailingForm, MessageForm, OwnedModelForm
from .models import (
    Client,
    Delivery,
    DeliveryAttempt,
    Mailing,
    Message,
    Occurrence,
    Unsubscription,
    new_unsubscribe_token,
)

if TYPE_CHECKING:
    from .csv_io import ClientRow


class FormInvalid(ValidationError):
    def __init__(self, form: OwnedModelForm):
        self.form = form
        super().__init__(form.errors.as_data())
        self.code = ErrorCode.INVALID


# --- permission checks --------------------------------------------------------------


def _require_can_act(actor: User) -> None:
    if not user_can_act(actor):
        raise PermissionDenied(_("Your account cannot do this (signed out, inactive or blocked)."))


def _require_can_edit(actor: User, obj: Client | Message | Mailing | None = None) -> None:
    _require_can_act(actor)
    if actor.is_superuser:
        return
    if selectors.is_manager(actor):
        raise PermissionDenied(_("Managers oversee mailings but cannot edit clients, messages or mailings."))
    if is_content_editor(actor):
        raise PermissionDenied(_("Content editors work on the blog only; they keep no clients or mailings."))
    if obj is not None and obj.owner_id != actor.pk:
        raise PermissionDenied(_("This belongs to another user."))


def _require_can_disable(actor: User) -> None:
    _require_can_act(actor)
    if not actor.has_perm(selectors.DISABLE_MAILING):
        raise PermissionDenied(_("Only managers can disable or re-enable mailings."))


def _owner_for_create(actor: User, owner: User | None) -> User:
    """Whose list a new object goes into: the actor's own, or any user's when a superuser chooses (the
    admin)."""
    _require_can_edit(actor)
    if owner is None or owner.pk == actor.pk:
        return actor
    if not actor.is_superuser:
        raise PermissionDenied(_("Only a superuser can create something for another user."))
    return owner


def _validated(form: OwnedModelForm) -> OwnedModelForm:
    if not form.is_valid():
        raise FormInvalid(form)
    return form


# --- clients ------------------------------------------------------------------------


def client_create(*, actor: User, data: dict, owner: User | None = None) -> Client:
    owner = _owner_for_create(actor, owner)
    form = _validated(ClientForm(data=data, owner=owner))
    with transaction.atomic():
        client = form.save(commit=False)
        # An address that unsubscribed from this owner stays unsubscribed when it is added again.
        left = Unsubscription.objects.filter(owner=owner, email=client.email.lower()).first()
        if left is not None:
            client.unsubscribed_at = left.created_at
        client.save()
        return client


def client_update(*, actor: User, client: Client, data: dict) -> Client:
    _require_can_edit(actor, client)
    form = _validated(ClientForm(data=data, instance=client, owner=client.owner))
    with transaction.atomic():
        return form.save()


def client_delete(*, actor: User, client: Client) -> None:
    _require_can_edit(actor, client)
    with transaction.atomic():
        # Deliveries keep the address (SET_NULL + email copy), so reports survive the deletion.
        client.delete()


# --- messages -----------------------------------------------------------------------


def message_create(*, actor: User, data: dict, owner: User | None = None) -> Message:
    owner = _owner_for_create(actor, owner)
    form = _validated(MessageForm(data=data, owner=owner))
    with transaction.atomic():
        return form.save()


def message_update(*, actor: User, message: Message, data: dict) -> Message:
    _require_can_edit(actor, message)
    form = _validated(MessageForm(data=data, instance=message, owner=message.owner))
    with transaction.atomic():
        return form.save()


def message_delete(*, actor: User, message: Message) -> None:
    _require_can_edit(actor, message)
    try:
        with transaction.atomic():
            message.delete()
    except RestrictedError as exc:
        count = len(exc.restricted_objects)
        raise ValidationError(
            ngettext(
                "This message is used by %(count)d mailing; delete or change it first.",
                "This message is used by %(count)d mailings; delete or change them first.",
                count,
            ),
            code=ErrorCode.MESSAGE_IN_USE,
            params={"count": count},
        ) from exc


# --- mailings -----------------------------------------------------------------------


def mailing_create(*, actor: User, data: dict, owner: User | None = None) -> Mailing:
    owner = _owner_for_create(actor, owner)
    form = _validated(MailingForm(data=data, owner=owner))
    with transaction.atomic():
        mailing = form.save(commit=False)
        mailing.time_zone = owner.time_zone
        mailing.save()
        form.save_m2m()
        scheduling.reschedule(mailing)
    return mailing


def mailing_update(*, actor: User, mailing: Mailing, data: dict) -> Mailing:
    _require_can_edit(actor, mailing)
    form = _validated(MailingForm(data=data, instance=mailing, owner=mailing.owner))
    with transaction.atomic():
        mailing = form.save()
        scheduling.reschedule(mailing)
    return mailing


def mailing_delete(*, actor: User, mailing: Mailing) -> None:
    _require_can_edit(actor, mailing)
    with transaction.atomic():
        mailing.delete()


def mailing_disable(*, actor: User, mailing: Mailing) -> Mailing:
    """A manager's switch (R-AUTH-5): a disabled mailing is never sent (R-SEND-8)."""
    _require_can_disable(actor)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if mailing.is_active:
            mailing.is_active = False
            mailing.disabled_at = timezone.now()
            mailing.disabled_by = actor
            mailing.save(update_fields=["is_active", "disabled_at", "disabled_by", "updated_at"])
            # What was still waiting is dropped, not sent weeks later when someone re-enables it.
            mailing.deliveries.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]).update(
                status=Delivery.Status.SKIPPED,
                next_attempt_at=None,
                last_response="mailing disabled by a manager",
            )
    return mailing


def mailing_enable(*, actor: User, mailing: Mailing) -> Mailing:
    _require_can_disable(actor)
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if not mailing.is_active:
            mailing.is_active = True
            mailing.disabled_at = None
            mailing.disabled_by = None
            mailing.save(update_fields=["is_active", "disabled_at", "disabled_by", "updated_at"])
            # Of the occurrences missed while disabled only the current period's is sent, not a backlog.
            scheduling.reschedule(mailing)
    return mailing


class Operator:
    """The operator at the server's command line (`send_mailing`): shell access already grants everything,
    so only the mailing's state decides. A named actor, not `None`, so that a page or an API call that lost
    its user can never skip the permission check by accident."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = Operator()


def _require_may_be_sent(mailing: Mailing) -> None:
    """Refuse a mailing that nothing may be sent for, whatever its schedule (R-SEND-8): disabled by a
    manager, or its owner blocked or inactive."""
    if not mailing.is_active:
        raise ValidationError(
            _("This mailing is disabled; it cannot be sent until it is enabled again."),
            code=ErrorCode.MAILING_DISABLED,
        )
    if not user_can_act(mailing.owner):
        raise ValidationError(
            _("The owner of this mailing is blocked or inactive; nothing is sent for them."),
            code=ErrorCode.OWNER_CANNOT_ACT,
        )


def mailing_check_send_now(*, actor: User | Operator, mailing: Mailing) -> None:
    """May `actor` send `mailing` now, outside its schedule? Raises PermissionDenied for the wrong actor and
    a ValidationError with an `ErrorCode` for the mailing's state. The dry-run asks this too, so it refuses
    exactly what a real send refuses. `actor=OPERATOR` is the command line (see `Operator`)."""
    if actor is not OPERATOR:
        _require_can_edit(actor, mailing)
    if not selectors.sendable_mailings().filter(pk=mailing.pk).exists():
        _require_may_be_sent(Mailing.objects.select_related("owner").get(pk=mailing.pk))
        raise ValidationError(
            _("This mailing is completed; move its end later to send it again."),
            code=ErrorCode.MAILING_COMPLETED,
        )
    if not selectors.recipients_of(mailing).exists():
        raise ValidationError(
            _("This mailing has no subscribed clients to send to."), code=ErrorCode.NO_RECIPIENTS
        )


def mailing_send_now(*, actor: User | Operator, mailing: Mailing) -> Occurrence:
    """Queue a manual occurrence of `mailing` for now (R-SEND-6): one delivery per recipient, sent by the
    scheduler's next pass (or at once by `send_mailing`); the schedule is left as it was. Nothing is sent
    here, so a page or an API call returns at once. A second request while a manual send of the mailing is
    still going is refused, so a double click never doubles a send."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        mailing_check_send_now(actor=actor, mailing=mailing)
        if mailing.occurrences.filter(is_manual=True, finished_at__isnull=True).exists():
            raise ValidationError(
                _("A manual send of this mailing is still in progress; wait until it finishes."),
                code=ErrorCode.SEND_IN_PROGRESS,
            )
        now = timezone.now()
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now, is_manual=True)
        scheduling.materialise(occurrence, now)
        if mailing.status == Mailing.Status.CREATED:
            mailing.status = Mailing.Status.STARTED
            mailing.save(update_fields=["status", "updated_at"])
    return occurrence


# --- unsubscribing (R-SEND-8) ----------------------------------------------------------


def client_unsubscribe(*, client: Client) -> Client:
    """The recipient's own choice, through the signed link in every message: idempotent."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if client.unsubscribed_at is None:
            client.unsubscribed_at = timezone.now()
            client.save(update_fields=["unsubscribed_at"])
        Unsubscription.objects.get_or_create(owner_id=client.owner_id, email=client.email.lower())
    return client


# --- importing clients ---------------------------------------


class ImportResult(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ImportRowResult:
    """What became of one row: `reason` says why it was skipped (or, for an added row, what was filled
    in); `code` is an `ErrorCode` or the form's code ("invalid", "required", "max_length"), "" when none."""

    line: int
    email: str
    result: ImportResult
    reason: str = ""
    code: str = ""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    rows: list[ImportRowResult] = field(default_factory=list)

    def _add(self, row: ImportRowResult) -> None:
        self.rows.append(row)
        setattr(self, row.result.value, getattr(self, row.result.value) + 1)


IMPORT_BATCH = 1000


def _import_fields(row: "ClientRow") -> tuple[dict[str, str], ValidationError | None]:
    """A row through ClientForm's own fields (the one validation: address syntax, lengths), without the
    form's per-row uniqueness query: the import compares against the owner's list loaded once."""
    fields = ClientForm.base_fields
    cleaned: dict[str, str] = {}
    for name, value in (("email", row.email), ("full_name", row.full_name), ("comment", row.comment)):
        if name == "full_name" and not (value or "").strip():
            cleaned[name] = ""  # optional in a file: kept, or filled in, by the caller
            continue
        try:
            cleaned[name] = fields[name].clean(value or "")
        except ValidationError as exc:
            error = exc.error_list[0]
            message = error.message % error.params if error.params else error.message
            reason = _("%(field)s: %(message)s") % {"field": fields[name].label, "message": message}
            return cleaned, ValidationError(reason, code=error.code or ErrorCode.INVALID)
    cleaned["email"] = User.objects.normalize_email(cleaned["email"])
    return cleaned, None


def clients_import(*, actor: User, rows: "list[ClientRow]") -> ImportReport:
    """Import `rows` into the actor's own client list, in one transaction.

    Each row is validated like ClientForm; an address already in the list (any letter case) gets the row's
    full name and comment (an empty cell keeps what is there: an import never erases); a repeat of an
    address earlier in the file and an invalid row are skipped with the reason; a new address that
    unsubscribed from this owner before is added but stays unsubscribed (R-SEND-8). A new client without
    a full name gets the part of the address before the @, so a plain list of addresses imports.

    A fixed number of queries whatever the number of rows: the list is loaded once, new clients are
    inserted and changed ones updated in batches.
    """
    from .csv_io import MAX_IMPORT_ROWS

    _require_can_edit(actor)
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError(
            _("At most %(limit)d clients can be imported at once; split the list."),
            code=ErrorCode.CSV_TOO_MANY_ROWS,
            params={"limit": MAX_IMPORT_ROWS},
        )
    report = ImportReport()
    try:
        with transaction.atomic():
            _import_rows(actor, rows, report)
    except IntegrityError as exc:
        raise ValidationError(
            _("Your client list changed while the file was being imported; nothing was imported. Try again."),
            code=ErrorCode.IMPORT_CONFLICT,
        ) from exc
    return report


def _import_rows(owner: User, rows: "list[ClientRow]", report: ImportReport) -> None:
    existing = {
        client.email.lower(): client
        for client in Client.objects.filter(owner=owner).only(
            "pk", "email", "full_name", "comment", "unsubscribed_at"
        )
    }
    left = dict(Unsubscription.objects.filter(owner=owner).values_list("email", "created_at"))
    seen: dict[str, int] = {}
    new: list[Client] = []
    changed: list[Client] = []
    for row in rows:
        cleaned, error = _import_fields(row)
        email = cleaned.get("email") or (row.email or "").strip()
        if error is not None:
            report._add(ImportRowResult(row.line, email, ImportResult.SKIPPED, error.message, error.code))
            continue
        key = email.lower()
        if key in seen:
            reason = _("The same address is on line %(line)d of this file.") % {"line": seen[key]}
            report._add(
                ImportRowResult(row.line, email, ImportResult.SKIPPED, reason, ErrorCode.DUPLICATE_IN_FILE)
            )
            continue
        seen[key] = row.line
        client = existing.get(key)
        if client is None:
            client = Client(
                owner=owner, email=email, full_name=cleaned["full_name"], comment=cleaned["comment"]
            )
            reason, code = "", ""
            if not client.full_name:
                client.full_name = email.rpartition("@")[0][: Client._meta.get_field("full_name").max_length]
                reason = _("No full name in the file; the part of the address before the @ was used.")
                code = ErrorCode.NAME_FROM_EMAIL
            if key in left:
                client.unsubscribed_at = left[key]
            new.append(client)
            report._add(ImportRowResult(row.line, email, ImportResult.ADDED, reason, code))
            continue
        before = (client.full_name, client.comment, client.unsubscribed_at)
        client.full_name = cleaned["full_name"] or client.full_name
        client.comment = cleaned["comment"] or client.comment
        if key in left and client.unsubscribed_at is None:
            client.unsubscribed_at = left[key]
        if (client.full_name, client.comment, client.unsubscribed_at) == before:
            reason = _("Already in your list with the same details.")
            report._add(ImportRowResult(row.line, email, ImportResult.SKIPPED, reason, ErrorCode.UNCHANGED))
            continue
        changed.append(client)
        report._add(ImportRowResult(row.line, email, ImportResult.UPDATED))
    Client.objects.bulk_create(new, batch_size=IMPORT_BATCH)
    _update_clients(owner, changed)


def _update_clients(owner: User, clients: list[Client]) -> None:
    """Write the full name, comment and unsubscribed_at of `clients`: one UPDATE ... FROM (VALUES ...) per
    batch. `bulk_update` builds a CASE expression per row and field in Python, about 1 ms a row; this
    costs what the database needs. Both databases name a VALUES list's columns column1, column2, ..."""
    table = connection.ops.quote_name(Client._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    # PostgreSQL types a VALUES column that holds only NULLs as text, which a timestamp column refuses.
    stamp = (
        "CAST(v.column4 AS timestamp with time zone)" if connection.vendor == "postgresql" else "v.column4"
    )
    for start in range(0, len(clients), IMPORT_BATCH):
        batch = clients[start : start + IMPORT_BATCH]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
        params = [
            value
            for client in batch
            for value in (client.pk, client.full_name, client.comment, adapt(client.unsubscribed_at))
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET full_name = v.column2, comment = v.column3, unsubscribed_at = {stamp} "  # noqa: S608 - names from _meta, values are parameters
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1 AND {table}.owner_id = %s",
                [*params, owner.pk],
            )


def clients_import_csv(*, actor: User, data: bytes) -> ImportReport:
    """Parse an uploaded clients file and import it (`clients_import`). A file that cannot be read (too
    large, binary, malformed, empty, too many rows) raises ValidationError and changes nothing."""
    from .csv_io import parse_clients_csv

    _require_can_edit(actor)
    return clients_import(actor=actor, rows=parse_clients_csv(data))


# --- retrying an occurrence's failures -------------------------------


def occurrence_retry_failed(*, actor: User, occurrence: Occurrence) -> int:
    """Queue the failed deliveries of `occurrence` (permanent failures and exhausted retries) again as a
    new attempt series and return how many: each is pending now with its attempts counter at 0, while its
    attempt log keeps the earlier attempts. Only clients that are still recipients of the mailing are
    retried (`recipients_of`: not unsubscribed, deleted or removed since); skipped deliveries never are.

    The occurrence is reopened and a completed mailing is marked started again, so the engine's next pass
    claims the deliveries (it only sends for `sendable_mailings`) and its finish step completes both again
    when they are final. Nothing is sent here. Owner or superuser only (R-AUTH-4/5); refused for a
    disabled mailing or a blocked owner like a send now; a second call finds nothing left to retry.
    """
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().select_related("owner").get(pk=occurrence.mailing_id)
        _require_can_edit(actor, mailing)
        _require_may_be_sent(mailing)
        failed = Delivery.objects.filter(
            occurrence_id=occurrence.pk,
            status=Delivery.Status.FAILED,
            client__in=selectors.recipients_of(mailing).values("pk"),
        )
        now = timezone.now()
        count = failed.update(
            status=Delivery.Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            claim_token="",
        )
        if not count:
            raise ValidationError(
                _("This send has no failed deliveries to retry."), code=ErrorCode.NOTHING_TO_RETRY
            )
        Occurrence.objects.filter(pk=occurrence.pk).update(finished_at=None)
        if mailing.status == Mailing.Status.COMPLETED:
            mailing.status = Mailing.Status.STARTED
            mailing.save(update_fields=["status", "updated_at"])
    return count


# --- preview and test send ----------------------------------------

TEST_SENDS_PER_HOUR = 10


@dataclass(frozen=True)
class Preview:
    """One recipient's email as the engine builds it: `to` and `from_email` readable (not MIME-encoded),
    `html` "" when the message has no HTML version, `headers` the list headers (R-SEND-9)."""

    subject: str
    text: str
    html: str
    to: str
    from_email: str
    headers: dict[str, str]


@dataclass(frozen=True)
class TestSendResult:
    """The mail server's answer to a test send: `code` is its SMTP reply code when there was one."""

    __test__ = False  # not a pytest test class, whatever its name

    accepted: bool
    code: int | None
    answer: str


def message_preview(*, actor: User, message: Message, client: Client) -> Preview:
    """Exactly what the engine would send `client` for `message`: the engine's own compose step, with the
    placeholders filled and the client's real unsubscribe footer and headers (R-SEND-9). Owner or superuser
    only, message and client of one owner; a manager sees no message text (R-AUTH-5)."""
    from .sending.compose import PreparedMessage, UnsafeRecipient

    _require_can_edit(actor, message)
    _require_can_edit(actor, client)
    if message.owner_id != client.owner_id:
        raise PermissionDenied(_("The message and the client belong to different users."))
    prepared = PreparedMessage(message)
    try:
        parts = prepared.parts(email=client.email, full_name=client.full_name, token=client.unsubscribe_token)
    except UnsafeRecipient as exc:
        raise ValidationError(
            _("Nothing can be sent to %(email)s: the address cannot be used on the wire."),
            code=ErrorCode.UNSENDABLE_ADDRESS,
            params={"email": client.email},
        ) from exc
    return Preview(
        subject=parts.subject,
        text=parts.text,
        html=parts.html,
        to=str(make_header(decode_header(parts.to))),
        from_email=prepared.from_email,
        headers=parts.headers,
    )


def message_send_test(*, actor: User, message: Message) -> TestSendResult:
    """Send `message` to the actor's own address, personalised with the actor as the sample client, through
    the engine's transport and settings, and return the server's answer. An unreachable or refusing server
    gives `accepted=False` with its error, never an exception. At most TEST_SENDS_PER_HOUR per user and
    hour (raises `RateLimited`), so it cannot be used to flood anyone; nothing goes into the delivery log.
    The unsubscribe link in it belongs to no client (the page says the link is invalid)."""
    from .sending.compose import PreparedMessage
    from .sending.transport import open_connection

    _require_can_edit(actor, message)
    ratelimit.take(ratelimit.Limit("test-send", str(actor.pk), TEST_SENDS_PER_HOUR, ratelimit.HOUR))
    full_name = actor.get_full_name() or actor.email.rpartition("@")[0]
    transport = open_connection()
    try:
        result = transport.send(
            PreparedMessage(message), email=actor.email, full_name=full_name, token=new_unsubscribe_token()
        )
    finally:
        transport.close()
    return TestSendResult(
        accepted=result.outcome == DeliveryAttempt.Outcome.SENT, code=result.code, answer=result.text
    )
