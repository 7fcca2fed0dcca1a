"""Reading the CSV of contact ids for a contacts -> patients batch.

The first column holds our contact ids; a header row is optional; a report's trailing text (after
a blank line, or non-id lines at the end) is ignored and listed. Every other line becomes a row of
the batch (and of its plan): a contact id to sync, or a row that says why it is skipped (a line
that is not a contact id, an id repeated in the file, an id that is not this practice's
contact). A file that cannot be read, or holds no usable id at all, is refused with a message
saying what to fix: nothing is queued from it.

The file is read as a stream, a line at a time (an upload over Django's in-memory size is already
a temporary file), and reading stops at `SYNC_CSV_MAX_ROWS` ids: memory stays bounded by the
limit, not by the file. Only the ids, the header and a few listed lines are kept.
"""

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings

from sync.models import BatchRow, Contact

Outcome = BatchRow.Outcome
# A row of the batch from one line: (contact id or None, the line's id or text, the outcome
# decided at upload (PENDING: to sync), why).
CsvRow = tuple[int | None, str, str, str]

MAX_BYTES = 20 * 1024 * 1024
MAX_LISTED = 10
# Trailing lines kept to show on the batch's page (the rest are counted out, not kept).
MAX_IGNORED_KEPT = 200
# Text read ahead to guess the delimiter.
SNIFF_CHARS = 4096
# Ids checked against the practice's contacts per query.
CHECK_CHUNK = 2000


class CsvError(ValueError):
    """The file cannot be used; the message says why and what to do."""


@dataclass
class ParsedCsv:
    """The data lines in order: an id (int) the first time it appears, else (outcome, text) for
    an id repeated or a line that is not an id."""

    items: list[int | tuple[str, str]] = field(default_factory=list)
    header: str = ""
    ignored_lines: list[str] = field(default_factory=list)

    @property
    def contact_ids(self) -> list[int]:
        return [item for item in self.items if isinstance(item, int)]

    @property
    def duplicates(self) -> int:
        return sum(1 for i in self.items if isinstance(i, tuple) and i[0] == Outcome.DUPLICATE)


def _as_id(cell: str) -> int | None:
    text = cell.strip().strip('"').strip()
    if text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _listing(values: list[Any], total: int | None = None) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_LISTED])
    more = (len(values) if total is None else total) - min(len(values), MAX_LISTED)
    return shown + (f" (and {more} more)" if more > 0 else "")


def max_rows() -> int:
    return int(settings.SYNC_CSV_MAX_ROWS)


def csv_parse(source: bytes | IO[bytes], *, name: str = "", limit: int | None = None) -> ParsedCsv:
    """Read contact ids from an uploaded file (its bytes, or a binary file object read as a
    stream); raises CsvError with a plain message."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    if _size(stream) > MAX_BYTES:
        raise CsvError("The file is larger than 20 MB. Split it into smaller files.")
    if name and not name.lower().endswith((".csv", ".txt")):
        raise CsvError("Upload a .csv file (the report exported as CSV).")
    text = io.TextIOWrapper(stream, encoding=_encoding(stream), newline="")  # type: ignore[arg-type]
    try:
        return _read_rows(_rows(text), max_rows() if limit is None else limit)
    except UnicodeDecodeError as exc:
        if text.encoding == "utf-16":
            raise CsvError("The file could not be read as UTF-16 text.") from exc
        raise CsvError(
            "The file is not in UTF-8. Export the report again choosing UTF-8 encoding, then "
            "upload it."
        ) from exc
    except csv.Error as exc:
        raise CsvError(f"This file is not a readable CSV ({exc}).") from exc
    finally:
        text.detach()  # the upload's file stays open for Django to close


def _size(stream: IO[bytes]) -> int:
    here = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return size


def _encoding(stream: IO[bytes]) -> str:
    """UTF-16 (a spreadsheet's "Unicode text") by its BOM, else UTF-8 with or without a BOM;
    refuses binary files."""
    start = stream.tell()
    head = stream.read(4096)
    stream.seek(start)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise CsvError("This file is not a CSV (it holds binary data). Export the report as CSV.")
    return "utf-8-sig"


def _rows(text: io.TextIOWrapper) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each record, the delimiter guessed from the first lines."""
    head: list[str] = []
    read = 0
    for line in text:
        head.append(line)
        read += len(line)
        if read >= SNIFF_CHARS:
            break
    if not "".join(head).strip():
        raise CsvError("The file is empty. Export the report with the contact ids in column one.")
    try:
        dialect: Any = csv.Sniffer().sniff("".join(head)[:SNIFF_CHARS], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(itertools.chain(head, text), dialect)
    for cells in reader:
        yield reader.line_num, cells


class _Reading:
    """What the lines seen so far say; bounded: ids up to the limit and a few listed lines."""

    def __init__(self, limit: int) -> None:
        self.result = ParsedCsv()
        self.limit = limit
        self.rows = 0  # id lines, duplicates included
        self.seen: set[int] = set()
        self.started = False  # past leading blank lines and the header
        self.ended = False  # past the first blank line after the data: trailing text
        # Non-id lines after the data: trailing text at the end, rows if an id follows.
        self.maybe_trailing: list[str] = []
        self.maybe_trailing_count = 0
        self.maybe_bad: list[tuple[str, str]] = []

    def ignore(self, cells: list[str]) -> None:
        if any(c.strip() for c in cells) and len(self.result.ignored_lines) < MAX_IGNORED_KEPT:
            self.result.ignored_lines.append(",".join(cells)[:300])

    def line(self, number: int, cells: list[str]) -> None:
        first = (cells[0] if cells else "").strip()
        if self.ended:
            self.ignore(cells)
        elif not first:
            if self.started:  # the data ends at the first blank line
                self.ended = True
                self.trailing_flush()
                self.ignore(cells)
        elif (cid := _as_id(first)) is None:
            if not self.started and not self.result.items:
                self.started = True
                self.result.header = ",".join(cells)[:200]
                return
            self.maybe_trailing_count += 1
            if len(self.maybe_trailing) < MAX_IGNORED_KEPT:
                self.maybe_trailing.append(",".join(cells)[:300])
            # Kept until an id follows (they are rows then) or the file ends (trailing text);
            # bounded like the ids: more than the limit of them refuses the file.
            if self.maybe_trailing_count + self.rows > self.limit:
                self.over_limit()
            self.maybe_bad.append((Outcome.NOT_AN_ID, f"line {number}: {first[:60]}"))
        else:
            self.started = True
            self.id_line(cid)

    def over_limit(self) -> None:
        raise CsvError(
            f"This file has more than {self.limit:,} contact ids, the most one file may "
            f"hold. Split it into files of at most {self.limit:,} rows and upload them one "
            "after another; nothing was started."
        )

    def id_line(self, cid: int) -> None:
        if self.maybe_trailing_count:  # not trailing after all: an id follows them
            self.rows += self.maybe_trailing_count
            self.result.items.extend(self.maybe_bad)
            self.maybe_trailing, self.maybe_trailing_count, self.maybe_bad = [], 0, []
        self.rows += 1
        if self.rows > self.limit:
            self.over_limit()
        if cid in self.seen:
            self.result.items.append((Outcome.DUPLICATE, str(cid)))
            return
        self.seen.add(cid)
        self.result.items.append(cid)

    def trailing_flush(self) -> None:
        room = MAX_IGNORED_KEPT - len(self.result.ignored_lines)
        self.result.ignored_lines.extend(self.maybe_trailing[:room])
        self.maybe_trailing, self.maybe_trailing_count, self.maybe_bad = [], 0, []


def _read_rows(rows: Iterator[tuple[int, list[str]]], limit: int) -> ParsedCsv:
    reading = _Reading(limit)
    for number, cells in rows:
        reading.line(number, cells)
    # Non-id lines at the very end (no blank line before them) are trailing text too.
    reading.trailing_flush()
    result = reading.result
    if not any(isinstance(item, int) for item in result.items):
        raise CsvError("The file holds no contact ids. Put the contact ids in the first column.")
    return result


def csv_rows(*, practice: Any, parsed: ParsedCsv) -> Iterator[CsvRow]:
    """The batch's rows, one per data line, in order: ids checked against the practice's
    contacts `CHECK_CHUNK` at a time (no longer IN list). Raises CsvError, once read through,
    when no line names one of this practice's contacts (the caller's transaction then keeps
    nothing)."""
    contacts = Contact.objects.for_practice(practice)
    usable = 0
    unknown: list[int] = []
    unknown_count = 0
    items = parsed.items
    for start in range(0, len(items), CHECK_CHUNK):
        chunk = items[start : start + CHECK_CHUNK]
        ids = [item for item in chunk if isinstance(item, int)]
        known = set(contacts.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
        for item in chunk:
            if isinstance(item, tuple):
                outcome, text = item
                yield None, text[:100], outcome, _SKIP_REASONS[outcome]
            elif item in known:
                usable += 1
                yield item, str(item), Outcome.PENDING, ""
            else:
                unknown_count += 1
                if len(unknown) < MAX_LISTED:
                    unknown.append(item)
                yield None, str(item), Outcome.UNKNOWN, _SKIP_REASONS[Outcome.UNKNOWN]
    if not usable:
        raise CsvError(
            "The ids in this file are not contacts of this practice: "
            + _listing(unknown, unknown_count)
            + ". Export the contacts of this practice and upload that file; nothing was started."
        )


_SKIP_REASONS = {
    Outcome.NOT_AN_ID: "This line does not start with a contact id.",
    Outcome.DUPLICATE: "This id is earlier in the file; it is synced once.",
    Outcome.UNKNOWN: "No contact of this practice has this id.",
}
