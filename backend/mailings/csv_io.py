"""Clients in and out as CSV, and the attempt log out.

Reading takes a file from any spreadsheet (R-OWN-3): the text encoding is read from a byte-order mark,
else UTF-8 when the bytes are UTF-8, else guessed by charset-normalizer among the code pages spreadsheets save
in (Windows-1251 from a Russian Excel, Windows-1252...); the separator is `,`, `;` or a tab, whichever splits
the first line into more cells. `csv_format` says which were used, for the import's report. It is strict
about what a file is (size, shape) and refuses the whole file with a
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
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from charset_normalizer import from_bytes
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import answers
from .errors import ErrorCode
from .models import Client, ClientTag, Delivery

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
# Without a header: email, full name, comment, tags.
MAX_COLUMNS = 4
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
    gettext_lazy("created"),
    # Last, so that scripts reading the earlier columns by position keep working.
    gettext_lazy("tags"),
)
TAGS_COLUMN = CLIENT_COLUMNS[-1]
TAGS_NAMES = frozenset({"tags", "tag", "теги", "метки"})
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
    stripped; a missing cell is ""; `tags` are the names in the tags cell (`tag_names`)."""

    line: int
    email: str
    full_name: str = ""
    comment: str = ""
    tags: tuple[str, ...] = ()


# --- reading ----------------------------------------------------------------------------


def _too_large(limit: int) -> ValidationError:
    return ValidationError(
        _("The file is larger than %(limit)d MB; split it into smaller files."),
        code=ErrorCode.CSV_TOO_LARGE,
        params={"limit": limit // (1024 * 1024)},
    )


def _binary(line: int | None = None) -> ValidationError:
    return ValidationError(
        _("This is not a text file (it contains binary data); upload a CSV file."),
        code=ErrorCode.CSV_BINARY,
    )


def _not_text(line: int, encoding: str) -> ValidationError:
    return ValidationError(
        _(
            "Line %(line)d is not %(encoding)s text like the lines before it; save the file as CSV in UTF-8 "
            "and upload it again."
        ),
        code=ErrorCode.CSV_BINARY,
        params={"line": line, "encoding": encoding_name(encoding)},
    )


# The bytes an encoding is judged on: enough for every spreadsheet's first screens of names.
SNIFF_BYTES = 1024 * 1024
# The single-byte code pages spreadsheets save "CSV" in, most likely first (the guess's tie-break).
CODE_PAGES = (
    "cp1251",
    "cp1252",
    "cp1250",
    "koi8_r",
    "cp866",
    "mac_cyrillic",
    "mac_roman",
    "iso8859_2",
    "cp1253",
    "cp1254",
    "cp1257",
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "utf-32": "UTF-32",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "cp1252": "Windows-1252",
    "cp1253": "Windows-1253",
    "cp1254": "Windows-1254",
    "cp1257": "Windows-1257",
    "koi8_r": "KOI8-R",
    "cp866": "DOS-866",
    "mac_cyrillic": "Mac Cyrillic",
    "mac_roman": "Mac Roman",
    "iso8859_2": "ISO-8859-2",
}
DELIMITER_NAMES = {
    ",": gettext_lazy("commas"),
    ";": gettext_lazy("semicolons"),
    "\t": gettext_lazy("tabs"),
}


def encoding_name(encoding: str) -> str:
    """How a person knows an encoding ("Windows-1251" for cp1251)."""
    return _ENCODING_NAMES.get(encoding, encoding.upper())


@dataclass(frozen=True)
class CsvFormat:
    """How a file was read: a Python codec name and the separator."""

    encoding: str
    delimiter: str

    @property
    def encoding_name(self) -> str:
        return encoding_name(self.encoding)

    @property
    def delimiter_name(self) -> str:
        return str(DELIMITER_NAMES.get(self.delimiter, self.delimiter))


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark: every other byte of Latin text is 0, and the text has no
    control characters (an archive's or an image's header has)."""
    sample = head[:4096]
    sample = sample[: len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    if not odd:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        encoding = "utf-16-le"
    elif even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        encoding = "utf-16-be"
    else:
        return None
    text = sample.decode(encoding, errors="replace")
    return None if _CONTROLS.search(text) or "\ufffd" in text else encoding


CYRILLIC_CODE_PAGES = ("cp1251", "koi8_r", "cp866", "mac_cyrillic")
_WORD = re.compile(rb"[A-Za-z\x80-\xff]+")


def _mostly_high_byte_words(head: bytes) -> bool:
    """Whether most words with a non-ASCII byte are made of non-ASCII bytes only: a script other than Latin
    (Cyrillic in a Russian Excel file). Latin scripts mix an accented letter with plain ones ("Müller")."""
    high_words = [word for word in _WORD.findall(head) if max(word) >= 0x80]
    if not high_words:
        return False
    pure = sum(1 for word in high_words if min(word) >= 0x80)
    return pure >= 0.6 * len(high_words)


def detect_encoding(head: bytes, *, complete: bool) -> str:
    """The codec of a file that starts with `head` (the whole file when `complete`): a byte-order mark,
    else UTF-8 when it decodes as UTF-8, else charset-normalizer's best reading among CODE_PAGES, a reading
    in a known language first. Raises ValidationError (csv_binary) for bytes that are not text."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" in head:
        encoding = _utf16_without_bom(head)
        if encoding is None:
            raise _binary()
        return encoding
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _CONTROLS.search(head[:4096].decode("latin-1")):
        raise _binary()
    # Words written wholly in non-ASCII bytes are Cyrillic (Latin scripts put an accented letter among plain
    # ones: "café"), so only the Cyrillic code pages compete then. charset-normalizer alone read a short
    # Russian Excel file ("Иван Петров") as Windows-1252 mojibake.
    candidates = CYRILLIC_CODE_PAGES if _mostly_high_byte_words(head) else CODE_PAGES
    readings = list(from_bytes(head, cp_isolation=list(candidates)))
    if not readings:
        raise _binary()
    least = min(reading.chaos for reading in readings)
    close = [reading for reading in readings if reading.chaos <= least + 0.1]

    def order(reading) -> int:
        return candidates.index(reading.encoding) if reading.encoding in candidates else len(candidates)

    if candidates is CYRILLIC_CODE_PAGES:
        # Cyrillic code pages differ mostly in the capitals; a short file's coherence cannot tell them apart,
        # and Windows-1251 (Russian Excel's) is by far the likeliest.
        close.sort(key=order)
    else:
        close.sort(key=lambda reading: (reading.language == "Unknown", -reading.coherence, order(reading)))
    return close[0].encoding


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


def _delimiter(first: str, number: int) -> str:
    """`,`, `;` or a tab, whichever splits the first line into more cells (quotes respected); in that order
    on a tie."""
    try:
        cells = {sep: len(next(csv.reader([first], delimiter=sep), [])) for sep in (",", ";", "\t")}
    except csv.Error as exc:
        raise _unreadable(exc, number) from exc
    return max(cells, key=lambda sep: cells[sep])


def _unescape(cell: str) -> str:
    """Undo the export's formula guard: "'=x" was written for "=x", "a;'=x" for "a;=x"."""
    return _GUARDED_AT.sub(r"\1\2", cell)


def _is_header(first_cell: str) -> bool:
    name = first_cell.strip().casefold()
    return name in HEADER_NAMES or name == str(CLIENT_COLUMNS[0]).casefold()


def _is_tags_title(cell: str) -> bool:
    name = cell.strip().casefold()
    return name in TAGS_NAMES or name == str(TAGS_COLUMN).casefold()


def tag_names(cell: str) -> tuple[str, ...]:
    """The tag names in a tags cell: separated by commas, stripped, empty ones dropped, each name once
    (the first spelling of it in any letter case)."""
    names: dict[str, str] = {}
    for name in cell.split(","):
        name = name.strip()
        if name:
            names.setdefault(name.lower(), name)
    return tuple(names.values())


def _text_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's lines as text. UTF-8 and the single-byte code pages are decoded line by line (none of
    them has a newline byte inside a character), so a line that does not decode is named exactly; a UTF-8
    BOM at the start is dropped. UTF-16 and UTF-32 go through a text wrapper."""
    if encoding.startswith(("utf-16", "utf-32")):
        yield from _wide_lines(stream, encoding)
        return
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    for number, raw in enumerate(stream, 1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if b"\x00" in raw:
            raise _binary(number)
        try:
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise _not_text(number, encoding) from exc


def _wide_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    number = 0
    try:
        for number, line in enumerate(text, 1):
            if "\x00" in line:
                raise _binary(number)
            yield line
    except UnicodeDecodeError as exc:
        raise _not_text(number + 1, encoding) from exc
    finally:
        text.detach()  # the caller's stream stays open


def csv_format(stream: BinaryIO) -> CsvFormat:
    """The encoding and separator `read_clients_csv` reads `stream` with, judged on its first SNIFF_BYTES
    (the stream is put back at its start). Raises ValidationError (csv_binary, csv_malformed, csv_empty)."""
    start = stream.tell()
    head = stream.read(SNIFF_BYTES)
    complete = not stream.read(1)
    stream.seek(start)
    encoding = detect_encoding(head, complete=complete)
    for number, text in enumerate(_text_lines(io.BytesIO(head), encoding), 1):
        if text.strip():
            if not text.endswith(("\n", "\r")) and not complete:
                break  # a first line longer than the sample: read it as a whole below
            return CsvFormat(encoding, _delimiter(text, number))
    stream.seek(start)
    try:
        for number, text in enumerate(_text_lines(stream, encoding), 1):
            if text.strip():
                return CsvFormat(encoding, _delimiter(text, number))
    finally:
        stream.seek(start)
    raise ValidationError(_("The file has no clients in it."), code=ErrorCode.CSV_EMPTY)


def read_clients_csv(
    stream: BinaryIO, *, max_rows: int | None = None, fmt: CsvFormat | None = None
) -> Iterator[ClientRow]:
    """The rows of a clients file read from a binary stream, one at a time (a file of a million rows is
    never in memory): email, full name, comment, tags (all but the first optional), an optional header row,
    in the encoding and with the separator of `fmt` (`csv_format`'s reading when not given). Empty lines are
    ignored; trailing empty cells do not count as columns. A header may name more columns than four (an
    export's subscribed and created), which are then allowed and ignored; with a header the tags are read
    from the column titled "tags", wherever it is. Raises ValidationError (csv_binary, csv_malformed,
    csv_empty, csv_too_many_rows) where the file stops being readable: a caller that must import nothing
    from a bad file reads it to the end first."""
    fmt = fmt or csv_format(stream)
    lines = _text_lines(stream, fmt.encoding)
    ahead: list[str] = []
    for text in lines:
        ahead.append(text)
        if text.strip():
            break
    if not ahead or not ahead[-1].strip():
        raise ValidationError(_("The file has no clients in it."), code=ErrorCode.CSV_EMPTY)
    reader = csv.reader(itertools.chain(ahead, lines), delimiter=fmt.delimiter, strict=True)
    first = True
    columns = MAX_COLUMNS
    tags_at = MAX_COLUMNS - 1
    count = 0
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
                    # allowed and not read; a column titled tags is read wherever it is.
                    columns = max(columns, len(cells))
                    tags_at = next((n for n, cell in enumerate(cells) if _is_tags_title(cell)), None)
                    continue
            if len(cells) > columns:
                raise ValidationError(
                    _(
                        "Line %(line)d has %(count)d columns; a row has at most four: email, full name, "
                        "comment, tags. Put a cell that contains the delimiter in double quotes."
                    ),
                    code=ErrorCode.CSV_MALFORMED,
                    params={"line": start, "count": len(cells)},
                )
            if max_rows is not None and count == max_rows:
                raise ValidationError(
                    _("The file has more than %(limit)d rows; split it into smaller files."),
                    code=ErrorCode.CSV_TOO_MANY_ROWS,
                    params={"limit": max_rows},
                )
            count += 1
            cells = [_unescape(cell) for cell in cells]
            email, full_name, comment = [*cells, "", ""][:3]
            tags = tag_names(cells[tags_at]) if tags_at is not None and tags_at < len(cells) else ()
            yield ClientRow(line=start, email=email, full_name=full_name, comment=comment, tags=tags)
    except csv.Error as exc:
        raise _unreadable(exc, reader.line_num or 1) from exc
    if not count:
        raise ValidationError(_("The file has no clients in it."), code=ErrorCode.CSV_EMPTY)


def parse_clients_csv_as(
    data: bytes, *, max_rows: int = MAX_IMPORT_ROWS
) -> tuple[CsvFormat, list[ClientRow]]:
    """How an uploaded clients file held in memory (at most MAX_IMPORT_BYTES) reads, and its rows, all read
    before anything is imported: see `read_clients_csv`. Raises ValidationError (csv_too_large, csv_binary,
    csv_malformed, csv_empty, csv_too_many_rows) for a file it cannot take."""
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large(MAX_IMPORT_BYTES)
    stream = io.BytesIO(data)
    fmt = csv_format(stream)
    return fmt, list(read_clients_csv(stream, max_rows=max_rows, fmt=fmt))


def parse_clients_csv(data: bytes, *, max_rows: int = MAX_IMPORT_ROWS) -> list[ClientRow]:
    """The rows of `parse_clients_csv_as`."""
    return parse_clients_csv_as(data, max_rows=max_rows)[1]


def count_clients_csv(stream: BinaryIO, *, max_rows: int, fmt: CsvFormat | None = None) -> int:
    """Read a whole stored file as `read_clients_csv` does and count its rows: the check a background import
    makes before it imports anything. Raises the same ValidationError."""
    return sum(1 for _row in read_clients_csv(stream, max_rows=max_rows, fmt=fmt))


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


def _with_tags(rows: Iterator[tuple], chunk: int) -> Iterator[tuple]:
    """`rows` (client pk first) with each client's tag names, looked up once per `chunk` clients."""
    while batch := list(itertools.islice(rows, chunk)):
        names: dict[int, list[str]] = {}
        pairs = (
            ClientTag.objects.filter(client_id__in=[row[0] for row in batch])
            .order_by("tag__name", "tag_id")
            .values_list("client_id", "tag__name")
        )
        for client_id, name in pairs:
            names.setdefault(client_id, []).append(name)
        for row in batch:
            yield (*row[1:], ", ".join(names.get(row[0], ())))


def zone_name(tz: zoneinfo.ZoneInfo | dt.tzinfo) -> str:
    """ "Europe/Moscow" for that zone, "UTC" for UTC: what an export's time column titles name."""
    return getattr(tz, "key", None) or str(tz)


def moment(value: dt.datetime | None, tz: zoneinfo.ZoneInfo | dt.tzinfo) -> str:
    """A time in an export: in `tz`, ISO 8601 with its UTC offset ("2025-06-02 00:15:05+03:00"), so a value
    means one instant wherever the file is read; "" for none."""
    return value.astimezone(tz).isoformat(sep=" ", timespec="seconds") if value else ""


def _zoned(columns: tuple, timed: tuple[int, ...], tz: zoneinfo.ZoneInfo | dt.tzinfo) -> list[str]:
    """Column titles, those of times followed by the zone: "created (Europe/Moscow)". Every export states
    its times the same way: the exporting user's zone, named in the title, and an offset in each value."""
    return [f"{title} ({zone_name(tz)})" if n in timed else str(title) for n, title in enumerate(columns)]


def clients_csv(queryset: QuerySet[Client], tz: zoneinfo.ZoneInfo | dt.tzinfo) -> Iterator[str]:
    """Lines of a clients export: email, full name, comment, subscribed (yes/no), created (in `tz`, the
    exporting user's zone: see `moment`), tags (names separated by commas), in the queryset's order. Pass an
    owner-scoped queryset
    (`selectors.clients_for`). Streams: the clients are read EXPORT_CHUNK at a time, with one query for the
    tags of each chunk."""
    yes, no = _("yes"), _("no")
    rows = queryset.values_list("pk", "email", "full_name", "comment", "unsubscribed_at", "created_at")
    return _lines(
        _zoned(CLIENT_COLUMNS, (4,), tz),
        (
            (email, name, comment, no if left else yes, moment(created, tz), tags)
            for email, name, comment, left, created, tags in _with_tags(
                rows.iterator(chunk_size=EXPORT_CHUNK), EXPORT_CHUNK
            )
        ),
    )


def deliveries_csv(
    queryset: QuerySet[Delivery], tz: zoneinfo.ZoneInfo | dt.tzinfo, *, relay_answers: bool = False
) -> Iterator[str]:
    """Lines of a report's attempt-log export: email, status, attempts, last attempt, last server answer,
    and the scheduled time of the send (occurrence) the delivery belongs to; times as in every export
    (`moment`, `tz` named in the titles). The answer is the server's own text with `relay_answers`
    (superusers: `roles.sees_relay_answers`), else its classified summary. Pass a scoped queryset
    (`selectors.deliveries_for`)."""
    labels = {value: str(label) for value, label in Delivery.Status.choices}
    rows = queryset.values_list(
        "email", "status", "attempts", "last_attempt_at", "last_response", "occurrence__scheduled_for"
    )

    return _lines(
        _zoned(DELIVERY_COLUMNS, (3, 5), tz),
        (
            (
                email,
                labels.get(status, status),
                attempts,
                moment(at, tz),
                answer if relay_answers else answers.summary(None, answer),
                moment(scheduled, tz),
            )
            for email, status, attempts, at, answer, scheduled in rows.iterator(chunk_size=EXPORT_CHUNK)
        ),
    )
