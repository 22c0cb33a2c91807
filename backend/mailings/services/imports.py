"""Importing clients: a parsed file or a list of rows into the actor's own list, in one transaction."""

import enum
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from backend.accounts.models import User

from ..csv_io import MAX_IMPORT_ROWS, ClientRow, parse_clients_csv
from ..errors import ErrorCode
from ..forms import ClientForm
from ..models import Client, Unsubscription
from .base import require_can_edit


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


def _import_fields(row: ClientRow) -> tuple[dict[str, str], ValidationError | None]:
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


def clients_import(*, actor: User, rows: list[ClientRow]) -> ImportReport:
    """Import `rows` into the actor's own client list, in one transaction.

    Each row is validated like ClientForm; an address already in the list (any letter case) gets the row's
    full name and comment (an empty cell keeps what is there: an import never erases); a repeat of an
    address earlier in the file and an invalid row are skipped with the reason; a new address that
    unsubscribed from this owner before is added but stays unsubscribed (R-SEND-8). A new client without
    a full name gets the part of the address before the @, so a plain list of addresses imports.

    A fixed number of queries whatever the number of rows: the list is loaded once, new clients are
    inserted and changed ones updated in batches.
    """
    require_can_edit(actor)
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


def _import_rows(owner: User, rows: list[ClientRow], report: ImportReport) -> None:
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
    require_can_edit(actor)
    return clients_import(actor=actor, rows=parse_clients_csv(data))
