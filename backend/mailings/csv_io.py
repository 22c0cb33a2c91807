"""Clients in and out as CSV, and the attempt log out.

Reading is strict about what a file is (size, text encoding, shape) and refuses the whole file with a
`ValidationError` carrying an `ErrorCode`, so nothing is imported from a file that was not understood; what
each row says (a valid address, lengths) is the import service's judgement, per row.

Writing streams: each function yields one CSV line at a time, so an export of 50,000 rows never sits in
memory. Every cell that a spreadsheet would read as a formula gets a leading apostrophe (CSV injection),
and so does every piece of a cell after a `;` or `,` (Excel in a Russian or German locale splits lines on
`;`, so such a piece becomes a cell of its own); the reader takes those apostrophes off again, so an
exported list imports unchanged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import answers
from .errors import ErrorCode
from .models import Client, Delivery

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
MAX_COLUMNS = 3
# The first cell of a header row; the translated column title is recognised too (an exported file).
HEADER_NAMES = frozenset({"email", "e-mail", "email address", "e-mail address", "почта", "электронная почта"})
# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Google Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a cell: the cell's start, or after a separator in a locale that splits on it.
# The export adds one apostrophe before a run of apostrophes and a formula character there, the import
# takes one off, so a text that had an apostrophe there already comes back with it.
_STARTS = "".join(re.escape(char) for char in FORMULA_START)
_FORMULA_AT = re.compile(rf"(\A|[;,])('*[{_STARTS}])")
_GUARDED_AT = re.compile(rf"(\A|[;,])'('*[{_STARTS}])")
EXPORT_CHUNK = 2000

# Column titles of the exports; lazy so that each export speaks the language active when it runs.
CLIENT_COLUMNS = (
    gettext_lazy("email"),
    gettext_lazy("full name"),
    gettext_lazy("comment"),
    gettext_lazy("subscribed"),
    gettext_lazy("created (UTC)"),
)
DELIVERY_COLUMNS = (
    gettext_lazy("email"),
    gettext_lazy("status"),
    gettext_lazy("attempts"),
    gettext_lazy("last attempt"),
    gettext_lazy("last server answer"),
    # Last, so that scripts reading the earlier columns by position keep working.
    gettext_lazy("send scheduled for"),
)


@dataclass(frozen=True)
class ClientRow:
    """One data row of an import: its line in the file (1-based, where the row starts) and its cells,
    stripped; a missing cell is ""."""

    line: int
    email: str
    full_name: str = ""
    comment: str = ""


# --- reading ----------------------------------------------------------------------------


def _text(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(
            _("The file is larger than %(limit)d MB; split it into smaller files."),
            code=ErrorCode.CSV_TOO_LARGE,
            params={"limit": MAX_IMPORT_BYTES // (1024 * 1024)},
        )
    if b"\x00" in data:
        raise ValidationError(
            _("This is not a text file (it contains binary data); upload a CSV file saved as UTF-8."),
            code=ErrorCode.CSV_BINARY,
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            _("Line %(line)d is not UTF-8 text; save the file as CSV in UTF-8 and upload it again."),
            code=ErrorCode.CSV_BINARY,
            params={"line": line},
        ) from exc


def _unreadable(exc: csv.Error, line: int) -> ValidationError:
    """The whole file refused for what the csv module could not read on `line`."""
    if str(exc).startswith("field larger than field limit"):
        # No cell of a clients file comes near the csv module's limit: a file of another kind, or a quote
        # never closed (the rest of the file became one cell).
        return ValidationError(
            _("Line %(line)d has a cell longer than %(limit)d characters; this is not a clients file."),
            code=ErrorCode.CSV_MALFORMED,
            params={"line": line, "limit": csv.field_size_limit()},
        )
    return ValidationError(
        _("Line %(line)d cannot be read as CSV (%(error)s); check its quotes."),
        code=ErrorCode.CSV_MALFORMED,
        params={"line": line, "error": exc},
    )


def _delimiter(text: str) -> str:
    """`;` or `,`, whichever splits the first line into more cells (quotes respected); `,` on a tie."""
    lines = text.splitlines()
    number, first = next(((n, line) for n, line in enumerate(lines, 1) if line.strip()), (1, ""))
    try:
        cells = {sep: len(next(csv.reader([first], delimiter=sep), [])) for sep in (";", ",")}
    except csv.Error as exc:
        raise _unreadable(exc, number) from exc
    return ";" if cells[";"] > cells[","] else ","


def _unescape(cell: str) -> str:
    """Undo the export's formula guard: "'=x" was written for "=x", "a;'=x" for "a;=x"."""
    return _GUARDED_AT.sub(r"\1\2", cell)


def _is_header(first_cell: str) -> bool:
    name = first_cell.strip().casefold()
    return name in HEADER_NAMES or name == str(CLIENT_COLUMNS[0]).casefold()


def parse_clients_csv(data: bytes) -> list[ClientRow]:
    """The rows of an uploaded clients file: email, full name, comment (the last two optional), an
    optional header row, UTF-8 with or without a BOM, `;` or `,` as the delimiter (read from the first
    line). Empty lines are ignored; trailing empty cells do not count as columns; a header may name more
    columns than three (an export's subscribed and created), which are then allowed and ignored. Raises
    ValidationError
    (csv_too_large, csv_binary, csv_malformed, csv_empty, csv_too_many_rows) for a file it cannot take."""
    text = _text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[ClientRow] = []
    first = True
    columns = MAX_COLUMNS
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            cells = [cell.strip() for cell in record]
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            if first:
                first = False
                if _is_header(cells[0]):
                    # A header may name more columns (an export adds subscribed and created): they are
                    # allowed and not read.
                    columns = max(columns, len(cells))
                    continue
            if len(cells) > columns:
                raise ValidationError(
                    _(
                        "Line %(line)d has %(count)d columns; a row has at most three: email, full name, "
                        "comment. Put a comment that contains the delimiter in double quotes."
                    ),
                    code=ErrorCode.CSV_MALFORMED,
                    params={"line": start, "count": len(cells)},
                )
            if len(rows) == MAX_IMPORT_ROWS:
                raise ValidationError(
                    _("The file has more than %(limit)d rows; split it into smaller files."),
                    code=ErrorCode.CSV_TOO_MANY_ROWS,
                    params={"limit": MAX_IMPORT_ROWS},
                )
            email, full_name, comment = ([_unescape(cell) for cell in cells] + ["", ""])[:MAX_COLUMNS]
            rows.append(ClientRow(line=start, email=email, full_name=full_name, comment=comment))
    except csv.Error as exc:
        raise _unreadable(exc, reader.line_num or 1) from exc
    if not rows:
        raise ValidationError(_("The file has no clients in it."), code=ErrorCode.CSV_EMPTY)
    return rows


# --- writing ----------------------------------------------------------------------------


class _Line:
    """A file-like target for csv.writer that hands back each line instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value: object) -> str:
    """A cell no spreadsheet runs as a formula: an apostrophe before = + - @ TAB CR at its start and after
    each `;` or `,` in it."""
    text = "" if value is None else str(value)
    return _FORMULA_AT.sub(r"\1'\2", text)


def _lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Line())
    # The BOM makes Excel read the file as UTF-8 (Cyrillic names); the importer accepts it.
    yield "\ufeff" + writer.writerow([str(title) for title in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def clients_csv(queryset: QuerySet[Client]) -> Iterator[str]:
    """Lines of a clients export: email, full name, comment, subscribed (yes/no), created (ISO 8601, UTC),
    in the queryset's order. Pass an owner-scoped queryset (`selectors.clients_for`)."""
    yes, no = _("yes"), _("no")
    rows = queryset.values_list("email", "full_name", "comment", "unsubscribed_at", "created_at")
    return _lines(
        CLIENT_COLUMNS,
        (
            (
                email,
                name,
                comment,
                no if left else yes,
                created.astimezone(dt.UTC).isoformat(timespec="seconds"),
            )
            for email, name, comment, left, created in rows.iterator(chunk_size=EXPORT_CHUNK)
        ),
    )


def deliveries_csv(
    queryset: QuerySet[Delivery], tz: zoneinfo.ZoneInfo | dt.tzinfo, *, relay_answers: bool = False
) -> Iterator[str]:
    """Lines of a report's attempt-log export: email, status, attempts, last attempt, last server answer,
    and the scheduled time of the send (occurrence) the delivery belongs to; times in `tz` with their UTC
    offset. The answer is the server's own text with `relay_answers` (superusers:
    `roles.sees_relay_answers`), else its classified summary. Pass a scoped queryset
    (`selectors.deliveries_for`)."""
    labels = {value: str(label) for value, label in Delivery.Status.choices}
    rows = queryset.values_list(
        "email", "status", "attempts", "last_attempt_at", "last_response", "occurrence__scheduled_for"
    )

    def moment(value: dt.datetime | None) -> str:
        return value.astimezone(tz).isoformat(sep=" ", timespec="seconds") if value else ""

    return _lines(
        DELIVERY_COLUMNS,
        (
            (
                email,
                labels.get(status, status),
                attempts,
                moment(at),
                answer if relay_answers else answers.summary(None, answer),
                moment(scheduled),
            )
            for email, status, attempts, at, answer, scheduled in rows.iterator(chunk_size=EXPORT_CHUNK)
        ),
    )
