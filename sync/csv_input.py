"""Reading the CSV of contact ids for a contacts -> patients batch.

The first column holds our contact ids; a header row is optional; a report's trailing text (after
a blank line, or non-id lines at the end) is ignored and listed. Anything else that is wrong
refuses the whole file with a message saying what to fix: nothing is queued from a bad file.

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

from sync.models import Contact

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
    contact_ids: list[int] = field(default_factory=list)
    header: str = ""
    ignored_lines: list[str] = field(default_factory=list)
    duplicates: int = 0


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
        # Non-id lines after the data: trailing text at the end, wrong if an id follows.
        self.maybe_trailing: list[str] = []
        self.maybe_trailing_count = 0
        self.maybe_bad: list[str] = []
        self.bad: list[str] = []
        self.bad_count = 0

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
            if not self.started and not self.result.contact_ids:
                self.started = True
                self.result.header = ",".join(cells)[:200]
                return
            self.maybe_trailing_count += 1
            if len(self.maybe_trailing) < MAX_IGNORED_KEPT:
                self.maybe_trailing.append(",".join(cells)[:300])
            if len(self.maybe_bad) < MAX_LISTED:
                self.maybe_bad.append(f"line {number}: {first[:40]!r}")
        else:
            self.started = True
            self.id_line(cid)

    def id_line(self, cid: int) -> None:
        if self.maybe_trailing_count:  # not trailing after all: an id follows them
            self.bad_count += self.maybe_trailing_count
            self.bad.extend(self.maybe_bad[: MAX_LISTED - len(self.bad)])
            self.maybe_trailing, self.maybe_trailing_count, self.maybe_bad = [], 0, []
        self.rows += 1
        if self.rows > self.limit:
            raise CsvError(
                f"This file has more than {self.limit:,} contact ids, the most one file may "
                f"hold. Split it into files of at most {self.limit:,} rows and upload them one "
                "after another; nothing was started."
            )
        if cid in self.seen:
            self.result.duplicates += 1
            return
        self.seen.add(cid)
        self.result.contact_ids.append(cid)

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
    if reading.bad_count:
        raise CsvError(
            "These lines do not start with a contact id: "
            + _listing(reading.bad, reading.bad_count)
            + ". Put the contact ids in the first column."
        )
    result = reading.result
    if not result.contact_ids:
        raise CsvError("The file holds no contact ids. Put the contact ids in the first column.")
    return result


def csv_check_ids(*, practice: Any, parsed: ParsedCsv) -> None:
    """Refuse the file when an id is not one of this practice's contacts (checked in chunks:
    no IN list longer than `CHECK_CHUNK`)."""
    unknown: list[int] = []
    unknown_count = 0
    ids = parsed.contact_ids
    contacts = Contact.objects.for_practice(practice)
    for start in range(0, len(ids), CHECK_CHUNK):
        chunk = ids[start : start + CHECK_CHUNK]
        known = set(contacts.filter(pk__in=chunk).values_list("pk", flat=True))
        missing = [cid for cid in chunk if cid not in known]
        unknown_count += len(missing)
        unknown.extend(missing[: MAX_LISTED - len(unknown)])
    if unknown_count:
        raise CsvError(
            "These ids are not contacts of this practice: "
            + _listing(unknown, unknown_count)
            + ". Correct the file and upload it again; nothing was started."
        )
