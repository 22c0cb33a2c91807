"""Importing clients: a parsed file or a list of rows into the actor's own list, in one transaction; a
large file stored and imported by the scheduler in chunks, resumable (R-AUD-3)."""

import contextlib
import csv
import datetime as dt
import enum
import hashlib
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.move import file_move_safe
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from backend.accounts.models import User

from ..csv_io import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    ClientRow,
    CsvFormat,
    count_clients_csv,
    csv_format,
    parse_clients_csv_as,
    read_clients_csv,
)
from ..errors import ErrorCode
from ..forms import ClientForm, name_from_email
from ..models import Client, ClientImport, ClientTag, Tag, Unsubscription, new_unsubscribe_token
from ..selectors import client_import_report_path, hard_bounced_addresses, suppressed_addresses
from .base import require_can_edit

logger = logging.getLogger(__name__)


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
    # How the file was read (encoding, separator); None for rows that came from no file.
    format: CsvFormat | None = None

    def _add(self, row: ImportRowResult) -> None:
        self.rows.append(row)
        setattr(self, row.result.value, getattr(self, row.result.value) + 1)


IMPORT_BATCH = 1000
# Addresses looked up per query (SQLite allows 32,766 parameters a statement).
LOOKUP_BATCH = 5000
TAG_NAME_MAX = Tag._meta.get_field("name").max_length


def _import_fields(row: ClientRow) -> tuple[dict, ValidationError | None]:
    """A row through ClientForm's own fields (the one validation: address syntax, lengths), without the
    form's per-row uniqueness query: the import compares against the owner's list a chunk at a time. The
    tags are names of at most the tag's length."""
    fields = ClientForm.base_fields
    cleaned: dict = {}
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
    tags = tuple(name.strip() for name in row.tags if name and name.strip())
    long = next((name for name in tags if len(name) > TAG_NAME_MAX), None)
    if long is not None:
        reason = _("tags: a tag name has at most %(limit)d characters (%(name)s…).") % {
            "limit": TAG_NAME_MAX,
            "name": long[:20],
        }
        return cleaned, ValidationError(reason, code=ErrorCode.INVALID)
    cleaned["tags"] = tags
    return cleaned, None


def _seen_key(email: str) -> int:
    """What the repeat check keeps of an address: a 64-bit hash (a dict of a million of them is about
    100 MB, of the addresses themselves twice that). Rebuilt in each process, so the salted hash is fine."""
    return hash(email.lower())


class _Tags:
    """The owner's tags by lower-cased name, loaded on first use; missing ones created in one statement."""

    def __init__(self, owner: User) -> None:
        self.owner = owner
        self.ids: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        if self.ids is None:
            self.ids = {}
            for pk, name in Tag.objects.filter(owner=self.owner).order_by("pk").values_list("pk", "name"):
                self.ids.setdefault(name.lower(), pk)
        return self.ids

    def resolve(self, names: Iterable[str]) -> dict[str, int]:
        """Ids of `names` (any letter case), creating the ones the owner does not have yet with the first
        spelling met."""
        ids = self._load()
        missing: dict[str, str] = {}
        for name in names:
            if name.lower() not in ids:
                missing.setdefault(name.lower(), name)
        if missing:
            Tag.objects.bulk_create(
                [Tag(owner=self.owner, name=name) for name in missing.values()], ignore_conflicts=True
            )
            self.ids = None
            ids = self._load()
        return ids


def _import_rows(
    owner: User, rows: list[ClientRow], report: ImportReport, seen: dict[int, int], tags: _Tags
) -> None:
    """One chunk of rows: validated, repeats (`seen`, kept across chunks) skipped, the chunk's addresses
    looked up in the owner's list, new clients inserted and changed ones updated in batches, tags added in
    one statement per batch. A fixed number of queries per chunk whatever its rows."""
    # Each row's result in its slot, reported in the file's order at the end.
    results: list[ImportRowResult | None] = [None] * len(rows)
    valid: list[tuple[int, ClientRow, dict, str]] = []
    for index, row in enumerate(rows):
        cleaned, error = _import_fields(row)
        email = cleaned.get("email") or (row.email or "").strip()
        if error is not None:
            results[index] = ImportRowResult(row.line, email, ImportResult.SKIPPED, error.message, error.code)
            continue
        key = _seen_key(email)
        if key in seen:
            reason = _("The same address is on line %(line)d of this file.") % {"line": seen[key]}
            results[index] = ImportRowResult(
                row.line, email, ImportResult.SKIPPED, reason, ErrorCode.DUPLICATE_IN_FILE
            )
            continue
        seen[key] = row.line
        valid.append((index, row, cleaned, email))
    keys = [email.lower() for _index, _row, _cleaned, email in valid]
    existing: dict[str, Client] = {}
    left: dict[str, object] = {}
    bounced: dict[str, dt.datetime] = {}
    erased: set[str] = set()
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start : start + LOOKUP_BATCH]
        found = (
            Client.objects.filter(owner=owner)
            .annotate(address=Lower("email"))
            .filter(address__in=batch)
            .only("pk", "email", "full_name", "comment", "unsubscribed_at")
        )
        existing.update((client.email.lower(), client) for client in found)
        left.update(
            Unsubscription.objects.filter(owner=owner, email__in=batch).values_list("email", "created_at")
        )
        bounced.update(hard_bounced_addresses(owner.pk, batch))
        erased.update(suppressed_addresses(owner.pk, batch))
    names = list(dict.fromkeys(name for _index, _row, cleaned, _email in valid for name in cleaned["tags"]))
    tag_ids = tags.resolve(names) if names else {}
    carried: set[tuple[int, int]] = set()
    if names:
        ids = [client.pk for client in existing.values()]
        for start in range(0, len(ids), LOOKUP_BATCH):
            carried.update(
                ClientTag.objects.filter(
                    client_id__in=ids[start : start + LOOKUP_BATCH], tag_id__in=set(tag_ids.values())
                ).values_list("client_id", "tag_id")
            )
    new: list[tuple[str, str, str, dt.datetime | None, dt.datetime | None]] = []
    new_tags: list[list[int]] = []
    changed: list[Client] = []
    pairs: list[tuple[int, int]] = []
    for index, row, cleaned, email in valid:
        key = email.lower()
        wanted = list(dict.fromkeys(tag_ids[name.lower()] for name in cleaned["tags"]))
        client = existing.get(key)
        if client is None and key in erased:
            # R-ENG-4: the person asked to be erased; only the owner adding them by hand brings them back.
            reason = _("Erased at the person's request; add them by hand if they asked to be added again.")
            results[index] = ImportRowResult(row.line, email, ImportResult.SKIPPED, reason, ErrorCode.ERASED)
            continue
        if client is None:
            full_name, reason, code = cleaned["full_name"], "", ""
            if not full_name:
                full_name = name_from_email(email)
                reason = _("No full name in the file; the part of the address before the @ was used.")
                code = ErrorCode.NAME_FROM_EMAIL
            new.append((email, full_name, cleaned["comment"], left.get(key), bounced.get(key)))
            new_tags.append(wanted)
            results[index] = ImportRowResult(row.line, email, ImportResult.ADDED, reason, code)
            continue
        before = (client.full_name, client.comment, client.unsubscribed_at)
        client.full_name = cleaned["full_name"] or client.full_name
        client.comment = cleaned["comment"] or client.comment
        if key in left and client.unsubscribed_at is None:
            client.unsubscribed_at = left[key]
        added_tags = [tag for tag in wanted if (client.pk, tag) not in carried]
        pairs.extend((client.pk, tag) for tag in added_tags)
        if (client.full_name, client.comment, client.unsubscribed_at) == before and not added_tags:
            reason = _("Already in your list with the same details.")
            results[index] = ImportRowResult(
                row.line, email, ImportResult.SKIPPED, reason, ErrorCode.UNCHANGED
            )
            continue
        if (client.full_name, client.comment, client.unsubscribed_at) != before:
            changed.append(client)
        results[index] = ImportRowResult(row.line, email, ImportResult.UPDATED)
    for pk, wanted in zip(_insert_clients(owner, new), new_tags, strict=True):
        pairs.extend((pk, tag) for tag in wanted)
    _update_clients(owner, changed)
    _insert_tags(pairs)
    for result in results:
        report._add(result)


def clients_import(*, actor: User, rows: list[ClientRow]) -> ImportReport:
    """Import `rows` into the actor's own client list, in one transaction.

    Each row is validated like ClientForm; an address already in the list (any letter case) gets the row's
    full name and comment (an empty cell keeps what is there: an import never erases); a repeat of an
    address earlier in the file and an invalid row are skipped with the reason; a new address that
    unsubscribed from this owner before is added but stays unsubscribed (R-SEND-8); one erased at the
    person's request is skipped with that reason (R-ENG-4). A new client without
    a full name gets the part of the address before the @, so a plain list of addresses imports. The row's
    tags are added to the client (never removed), created when the owner has no tag of that name in any
    letter case (R-AUD-2); an existing client gaining a tag counts as updated.

    A fixed number of queries whatever the number of rows: addresses are looked up, new clients inserted,
    changed ones updated and tags added in batches.
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
            _import_rows(actor, rows, report, {}, _Tags(actor))
    except IntegrityError as exc:
        raise ValidationError(
            _("Your client list changed while the file was being imported; nothing was imported. Try again."),
            code=ErrorCode.IMPORT_CONFLICT,
        ) from exc
    return report


def _insert_clients(
    owner: User, rows: list[tuple[str, str, str, dt.datetime | None, dt.datetime | None]]
) -> list[int]:
    """Insert new clients (email, full name, comment, unsubscribed_at, bounced_at): one INSERT ... RETURNING
    id per batch, the ids in the rows' order. `bulk_create` spends most of its time building each row's SQL in
    Python; here the statement is built once per batch. Both databases (SQLite 3.35+) return the rows in
    order."""
    table = connection.ops.quote_name(Client._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    ids: list[int] = []
    for start in range(0, len(rows), IMPORT_BATCH):
        batch = rows[start : start + IMPORT_BATCH]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch))
        params = [
            value
            for email, full_name, comment, left, bounced in batch
            for value in (
                owner.pk,
                email,
                full_name,
                comment,
                now,
                adapt(left),
                adapt(bounced),
                new_unsubscribe_token(),
            )
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (owner_id, email, full_name, comment, created_at, unsubscribed_at, "  # noqa: S608 - names from _meta, values are parameters
                f"bounced_at, unsubscribe_token) VALUES {values} RETURNING id",
                params,
            )
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _insert_tags(pairs: list[tuple[int, int]]) -> None:
    """Add (client id, tag id) pairs; those already there are left alone."""
    table = connection.ops.quote_name(ClientTag._meta.db_table)
    batch_size = 5 * IMPORT_BATCH
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        values = ", ".join(["(%s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (client_id, tag_id) VALUES {values} ON CONFLICT DO NOTHING",  # noqa: S608 - names from _meta, values are parameters
                [value for pair in batch for value in pair],
            )


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
    fmt, rows = parse_clients_csv_as(data)
    report = clients_import(actor=actor, rows=rows)
    report.format = fmt
    return report


# --- background imports (R-AUD-3) -------------------------------------------------------------------------

# Rows per transaction of a background import: each chunk commits with the row it reached.
IMPORT_CHUNK = 5000
# Rows with something to say kept in the database for the page; every row is in the report file.
PROBLEMS_KEPT = 100
# A chunk the database keeps refusing is tried this many times, this far apart, before the import fails.
IMPORT_CONFLICTS_MAX = 3
IMPORT_CONFLICT_PAUSE_SECONDS = 60
REPORT_HEADER = ("line", "email", "result", "reason", "code")
_ERROR_CODES_NOT_INVALID = {ErrorCode.DUPLICATE_IN_FILE, ErrorCode.UNCHANGED, ErrorCode.ERASED}


def import_dir() -> Path:
    return Path(settings.MAILER_IMPORT_DIR)


def report_path(job: ClientImport) -> Path:
    """The per-row report of a background import, next to its upload."""
    return client_import_report_path(job)


def _max_bytes() -> int:
    return settings.MAILER_IMPORT_MAX_MB * 1024 * 1024


def _store(upload: UploadedFile) -> tuple[str, str]:
    """Move the upload into the import folder (a rename when Django already wrote it to a temporary file,
    else a copy in chunks) and hash it. Returns the stored name and the SHA-256."""
    folder = import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.csv"
    target = folder / name
    digest = hashlib.sha256()
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        upload.file.flush()
        file_move_safe(temporary(), str(target), allow_overwrite=False)
        with target.open("rb") as stored:
            for block in iter(lambda: stored.read(1 << 20), b""):
                digest.update(block)
    else:
        upload.seek(0)
        with target.open("wb") as stored:
            for block in upload.chunks():
                digest.update(block)
                stored.write(block)
    return name, digest.hexdigest()


def clients_import_upload(*, actor: User, upload: UploadedFile) -> ImportReport | ClientImport:
    """An uploaded clients file: imported at once (the report returned) when it is small — at most
    MAX_IMPORT_BYTES and MAX_IMPORT_ROWS, as always —, else stored in MAILER_IMPORT_DIR and queued for the
    scheduler (the `ClientImport` returned), up to MAILER_IMPORT_MAX_MB. A file of the same content that this
    owner is already importing is refused (`import_running`). A file that cannot be read is refused as a
    whole: at once here, or by the background import before it imports anything."""
    require_can_edit(actor)
    if upload.size > _max_bytes():
        raise ValidationError(
            _("The file is larger than %(limit)d MB; split it into smaller files."),
            code=ErrorCode.CSV_TOO_LARGE,
            params={"limit": settings.MAILER_IMPORT_MAX_MB},
        )
    if upload.size <= MAX_IMPORT_BYTES:
        upload.seek(0)
        try:
            return clients_import_csv(actor=actor, data=upload.read(MAX_IMPORT_BYTES + 1))
        except ValidationError as exc:
            if exc.code != ErrorCode.CSV_TOO_MANY_ROWS:
                raise
    name, sha256 = _store(upload)
    with transaction.atomic():
        # The owner's row, locked: two uploads of one file at the same moment are judged one after the other.
        list(User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True))
        running = ClientImport.objects.filter(
            owner=actor,
            sha256=sha256,
            status__in=(ClientImport.Status.QUEUED, ClientImport.Status.RUNNING),
        ).first()
        if running is None:
            return ClientImport.objects.create(
                owner=actor,
                file_name=(upload.name or "")[:255],
                path=name,
                size=upload.size,
                sha256=sha256,
                language=translation.get_language() or "",
            )
    (import_dir() / name).unlink(missing_ok=True)
    raise ValidationError(
        _(
            "This file is already being imported (%(done)d rows so far); wait for that import to finish, "
            "its page shows the progress."
        ),
        code=ErrorCode.IMPORT_RUNNING,
        params={"done": running.rows_done},
    )


class _LeaseLost(Exception):
    """Another scheduler took the import over (this one was too slow to renew its lease)."""


def _leased(job: ClientImport, token: str):
    return ClientImport.objects.filter(pk=job.pk, lease_token=token)


def _claim() -> tuple[ClientImport, str] | None:
    """The oldest import waiting or abandoned (its lease expired: a run that crashed or was stopped) whose
    owner has no other import running, taken with a lease of MAILER_IMPORT_LEASE_SECONDS."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    busy_owners = ClientImport.objects.filter(
        status=ClientImport.Status.RUNNING, lease_until__gte=now
    ).values("owner_id")
    waiting = (
        ClientImport.objects.filter(
            free, status__in=(ClientImport.Status.QUEUED, ClientImport.Status.RUNNING)
        )
        .exclude(owner_id__in=busy_owners)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:5]
    )
    for pk in list(waiting):
        token = uuid.uuid4().hex
        taken = ClientImport.objects.filter(free, pk=pk).update(
            lease_token=token,
            lease_until=now + dt.timedelta(seconds=settings.MAILER_IMPORT_LEASE_SECONDS),
            status=ClientImport.Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
        if taken:
            return ClientImport.objects.select_related("owner").get(pk=pk), token
    return None


def _finish(job: ClientImport, token: str, status: str, message: str = "", code: str = "") -> None:
    _leased(job, token).update(
        status=status,
        error=message,
        error_code=code,
        finished_at=timezone.now(),
        lease_token="",
        lease_until=None,
    )
    (import_dir() / job.path).unlink(missing_ok=True)


def client_imports_run(*, stop: Callable[[], bool] | None = None, max_chunks: int | None = None) -> int:
    """The scheduler's import job: runs waiting imports one after another, chunk by chunk, until none is
    left or `stop()` says so (checked between chunks). Returns the number of chunks committed.
    `max_chunks` stops after that many, leaving the lease held as a crash would (tests, the bench)."""
    chunks = 0
    while not (stop and stop()) and (max_chunks is None or chunks < max_chunks):
        claimed = _claim()
        if claimed is None:
            break
        job, token = claimed
        left = None if max_chunks is None else max_chunks - chunks
        # The report's reasons and a failure's message in the language of the page the file came from.
        with translation.override(job.language or settings.LANGUAGE_CODE):
            chunks += _run(job, token, stop, left)
    return chunks


def _run(job: ClientImport, token: str, stop: Callable[[], bool] | None, max_chunks: int | None) -> int:
    source = import_dir() / job.path
    if not source.is_file():
        _finish(
            job,
            token,
            ClientImport.Status.FAILED,
            _("The uploaded file is no longer on the server; upload it again."),
            ErrorCode.IMPORT_FILE_MISSING,
        )
        return 0
    # The whole file is read first: a file that cannot be read is refused before anything is imported.
    with source.open("rb") as stream:
        try:
            fmt = csv_format(stream)
            total = count_clients_csv(stream, max_rows=settings.MAILER_IMPORT_MAX_ROWS, fmt=fmt)
        except ValidationError as exc:
            _finish(job, token, ClientImport.Status.FAILED, exc.messages[0], exc.code or ErrorCode.INVALID)
            return 0
    _leased(job, token).update(rows_total=total, encoding=fmt.encoding, delimiter=fmt.delimiter)
    owner = job.owner
    tags = _Tags(owner)
    seen: dict[int, int] = {}
    problems = list(job.problems)
    done = job.rows_done
    chunks = 0
    with source.open("rb") as stream, _report_file(job) as report_file:
        rows = read_clients_csv(stream, max_rows=settings.MAILER_IMPORT_MAX_ROWS, fmt=fmt)
        # Resumed: the repeat check is rebuilt from the rows already imported.
        for row in itertools.islice(rows, done):
            cleaned, error = _import_fields(row)
            if error is None:
                seen.setdefault(_seen_key(cleaned["email"]), row.line)
        while True:
            if stop and stop():
                # Stopped on purpose: the lease is given back, so any scheduler goes on at once.
                _leased(job, token).update(lease_until=None)
                return chunks
            if max_chunks is not None and chunks >= max_chunks:
                return chunks
            chunk = list(itertools.islice(rows, IMPORT_CHUNK))
            if not chunk:
                break
            report = ImportReport()
            try:
                with transaction.atomic():
                    _import_rows(owner, chunk, report, seen, tags)
                    writer = csv.writer(report_file)
                    for row in report.rows:
                        writer.writerow([row.line, row.email, row.result.value, row.reason, row.code])
                    report_file.flush()
                    os.fsync(report_file.fileno())
                    for row in report.rows:
                        if row.reason and len(problems) < PROBLEMS_KEPT:
                            problems.append([row.line, row.email, row.result.value, row.reason, row.code])
                    errors = sum(
                        1
                        for row in report.rows
                        if row.result == ImportResult.SKIPPED and row.code not in _ERROR_CODES_NOT_INVALID
                    )
                    done += len(chunk)
                    moved = _leased(job, token).update(
                        rows_done=done,
                        added=F("added") + report.added,
                        updated=F("updated") + report.updated,
                        skipped=F("skipped") + report.skipped - errors,
                        errors=F("errors") + errors,
                        problems=problems,
                        report_bytes=report_file.tell(),
                        lease_until=timezone.now()
                        + dt.timedelta(seconds=settings.MAILER_IMPORT_LEASE_SECONDS),
                    )
                    if not moved:
                        raise _LeaseLost
            except _LeaseLost:
                # Another scheduler has the import: nothing of the chunk stays, it goes on there.
                return chunks
            except IntegrityError:
                # The owner's list changed under the chunk, or the database saw a duplicate the import's own
                # check did not (letter cases it folds differently): nothing of the chunk stays. Tried again
                # after a pause — not at once, or one stubborn row would hold the job and every other
                # owner's import behind it — and failed for good after IMPORT_CONFLICTS_MAX tries.
                job.refresh_from_db(fields=["conflicts"])
                if job.conflicts + 1 >= IMPORT_CONFLICTS_MAX:
                    logger.warning("client import %s: chunk at row %d kept conflicting; failed", job.pk, done)
                    _finish(
                        job,
                        token,
                        ClientImport.Status.FAILED,
                        _(
                            "The rows after the first %(done)d kept conflicting with clients already in "
                            "your list; the first %(done)d are imported. Check the next rows' addresses and "
                            "import the rest again."
                        )
                        % {"done": done},
                        ErrorCode.IMPORT_CONFLICT,
                    )
                    return chunks
                logger.warning("client import %s: chunk at row %d rolled back; resuming later", job.pk, done)
                _leased(job, token).update(
                    conflicts=F("conflicts") + 1,
                    lease_until=timezone.now() + dt.timedelta(seconds=IMPORT_CONFLICT_PAUSE_SECONDS),
                )
                return chunks
            chunks += 1
    _finish(job, token, ClientImport.Status.DONE)
    return chunks


@contextlib.contextmanager
def _report_file(job: ClientImport):
    """The report CSV opened for appending after its committed bytes: rows written by a chunk that did not
    commit (a crash between the two) are cut off, so no row is reported twice."""
    path = report_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8", newline="") as report_file:
        report_file.truncate(job.report_bytes)
        report_file.seek(job.report_bytes)
        if job.report_bytes == 0:
            csv.writer(report_file).writerow(REPORT_HEADER)
        yield report_file
