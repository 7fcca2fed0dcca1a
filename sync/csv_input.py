"""Reading the CSV of contact ids for a contacts -> patients batch.

The first column holds our contact ids; a header row is optional; a report's trailing text (after
a blank line, or non-id lines at the end) is ignored and listed. Anything else that is wrong
refuses the whole file with a message saying what to fix: nothing is queued from a bad file.
"""

import codecs
import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sync.models import Contact

MAX_BYTES = 20 * 1024 * 1024
MAX_LISTED = 10


class CsvError(ValueError):
    """The file cannot be used; the message says why and what to do."""


@dataclass
class ParsedCsv:
    contact_ids: list[int] = field(default_factory=list)
    header: str = ""
    ignored_lines: list[str] = field(default_factory=list)
    duplicates: int = 0


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CsvError("The file could not be read as UTF-16 text.") from exc
    if b"\x00" in raw[:4096]:
        raise CsvError("This file is not a CSV (it holds binary data). Export the report as CSV.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(
            "The file is not in UTF-8. Export the report again choosing UTF-8 encoding, then "
            "upload it."
        ) from exc


def _as_id(cell: str) -> int | None:
    text = cell.strip().strip('"').strip()
    if text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _listing(values: list[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_LISTED])
    more = len(values) - MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def csv_parse(raw: bytes, *, name: str = "") -> ParsedCsv:
    """Read contact ids from an uploaded file; raises CsvError with a plain message."""
    if len(raw) > MAX_BYTES:
        raise CsvError("The file is larger than 20 MB. Split it into smaller files.")
    if name and not name.lower().endswith((".csv", ".txt")):
        raise CsvError("Upload a .csv file (the report exported as CSV).")
    text = _decode(raw)
    if not text.strip():
        raise CsvError("The file is empty. Export the report with the contact ids in column one.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise CsvError(f"This file is not a readable CSV ({exc}).") from exc
    return _read_rows(rows)


def _read_rows(rows: list[list[str]]) -> ParsedCsv:
    result = ParsedCsv()
    first_cell = [(r[0] if r else "").strip() for r in rows]
    body_start = 0
    while body_start < len(rows) and not first_cell[body_start]:
        body_start += 1  # leading blank lines
    if body_start < len(rows) and _as_id(first_cell[body_start]) is None:
        result.header = ",".join(rows[body_start])[:200]
        body_start += 1
    # The data ends at the first blank line; what follows is the report's trailing text.
    end = body_start
    while end < len(rows) and first_cell[end]:
        end += 1
    # Without a blank line, non-id lines at the very end are trailing text too.
    while end > body_start and _as_id(first_cell[end - 1]) is None:
        end -= 1
    result.ignored_lines = [",".join(r)[:300] for r in rows[end:] if any(c.strip() for c in r)]
    bad = [
        f"line {i + 1}: {first_cell[i][:40]!r}"
        for i in range(body_start, end)
        if _as_id(first_cell[i]) is None
    ]
    if bad:
        raise CsvError(
            "These lines do not start with a contact id: "
            + _listing(bad)
            + ". Put the contact ids in the first column."
        )
    seen: set[int] = set()
    for i in range(body_start, end):
        cid = _as_id(first_cell[i])
        assert cid is not None
        if cid in seen:
            result.duplicates += 1
            continue
        seen.add(cid)
        result.contact_ids.append(cid)
    if not result.contact_ids:
        raise CsvError("The file holds no contact ids. Put the contact ids in the first column.")
    return result


def csv_check_ids(*, practice: Any, parsed: ParsedCsv) -> None:
    """Refuse the file when an id is not one of this practice's contacts."""
    known: set[int] = set()
    ids = parsed.contact_ids
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        known.update(
            Contact.objects.for_practice(practice).filter(pk__in=chunk).values_list("pk", flat=True)
        )
    unknown = [cid for cid in ids if cid not in known]
    if unknown:
        raise CsvError(
            "These ids are not contacts of this practice: "
            + _listing(unknown)
            + ". Correct the file and upload it again; nothing was started."
        )
