"""The Activity page's reading of the audit trail: filters, keyset pages, words and links.

Every query starts at `AuditEntry.objects.for_practice(...)` and filters on one of the model's
composite indexes, newest first, so a page costs an index range read on any table size.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from handshake.audit import ACTIONS
from handshake.links import url_with_session
from handshake.models import AuditEntry, Practice
from hintpartner.csv_safe import cell_safe

if TYPE_CHECKING:
    from handshake.context import HintContext

PAGE_SIZE = 50
HISTORY_SIZE = 5  # the last entries a record's own page shows
FILTER_FIELDS = ("person", "patient", "action", "target", "since", "until")


@dataclass(frozen=True)
class ActivityFilter:
    """What the page was asked to show; every field optional, all of them combined."""

    person: str = ""  # the actor's label, as shown in the Person column
    patient: str = ""  # a Hint patient id
    action: str = ""
    target: str = ""  # "<target_type>:<target_id>", a record's own history
    since: date | None = None
    until: date | None = None
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def from_query(cls, query: QueryDict) -> "ActivityFilter":
        """Read the filters from a GET query; a malformed date is dropped with a sentence."""
        errors = []
        dates: dict[str, date | None] = {}
        for name, words in (("since", "From"), ("until", "To")):
            raw = query.get(name, "").strip()
            try:
                dates[name] = date.fromisoformat(raw) if raw else None
            except ValueError:
                dates[name] = None
                errors.append(f"{words} must be a date like 2025-01-31; it was left out.")
        return cls(
            person=query.get("person", "").strip()[:300],
            patient=query.get("patient", "").strip()[:100],
            action=query.get("action", "").strip()[:100],
            target=query.get("target", "").strip()[:160],
            since=dates["since"],
            until=dates["until"],
            errors=tuple(errors),
        )

    def as_query(self) -> dict[str, str]:
        """The filters for a link (the export, the next page), empty ones left out."""
        values = {name: getattr(self, name) for name in FILTER_FIELDS}
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items() if v}

    @property
    def is_empty(self) -> bool:
        return not self.as_query()

    def describe(self) -> str:
        """The filters in one line, for the export's own audit entry."""
        return ", ".join(f"{k}={v}" for k, v in self.as_query().items()) or "no filter"


def entries_filter(*, practice: Practice | int, wanted: ActivityFilter) -> QuerySet[AuditEntry]:
    """The practice's entries that match, newest first."""
    entries = AuditEntry.objects.for_practice(practice)
    if wanted.person:
        entries = entries.filter(actor_label=wanted.person)
    if wanted.patient:
        entries = entries.filter(patient_hint_id=wanted.patient)
    if wanted.action:
        entries = entries.filter(action=wanted.action)
    if wanted.target:
        target_type, _, target_id = wanted.target.partition(":")
        entries = entries.filter(target_type=target_type, target_id=target_id)
    if wanted.since:
        entries = entries.filter(created_at__gte=_day_start(wanted.since))
    if wanted.until:
        entries = entries.filter(created_at__lt=_day_start(wanted.until + timedelta(days=1)))
    return entries.order_by("-created_at", "-id")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    older: int | None  # the `before` cursor of the next (older) page, None on the last page


def entries_page(entries: QuerySet[AuditEntry], *, before: str = "") -> Page:
    """One page of `entries` older than the entry `before` (keyset: no OFFSET scan)."""
    if before.isdigit():
        cursor = entries.filter(pk=int(before)).values_list("created_at", flat=True).first()
        if cursor is not None:
            # created_at <= c minus the ties already shown: an index range read, in order.
            entries = entries.filter(created_at__lte=cursor).exclude(
                created_at=cursor, pk__gte=int(before)
            )
    rows = list(entries.select_related(None)[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None
    return Page(entries=rows[:PAGE_SIZE], older=older)


@dataclass(frozen=True)
class Row:
    """One entry as a person reads it."""

    entry: AuditEntry
    action: str
    record: str
    record_url: str  # without the session key; "" when the record is gone or has no page


def rows_describe(*, practice: Practice | int, entries: list[AuditEntry]) -> list[Row]:
    """Name each entry's record in plain words, one query per kind of record on the page."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.target_type and entry.target_id:
            wanted[entry.target_type].add(entry.target_id)
        if entry.patient_hint_id:
            wanted["patient"].add(entry.patient_hint_id)
    known: dict[tuple[str, str], tuple[str, str]] = {}
    for target_type, ids in wanted.items():
        path = settings.AUDIT_TARGETS.get(target_type)
        if path:
            described = import_string(path)(practice=practice, ids=sorted(ids))
            known.update({(target_type, i): words for i, words in described.items()})
    return [_row(entry, known) for entry in entries]


def _row(entry: AuditEntry, known: dict[tuple[str, str], tuple[str, str]]) -> Row:
    words, url = known.get((entry.target_type, entry.target_id), ("", ""))
    if not words and entry.target_type:
        gone = entry.target_id and entry.target_type in settings.AUDIT_TARGETS
        words = _kind_words(entry.target_type) + (" (no longer here)" if gone else "")
    if entry.patient_hint_id and entry.target_type != "patient":
        patient, patient_url = known.get(("patient", entry.patient_hint_id), ("", ""))
        if patient:
            words = f"{words}, {patient}" if words else patient
            url = url or patient_url
    return Row(
        entry=entry,
        action=ACTIONS.get(entry.action, entry.action),
        record=words,
        record_url=url,
    )


def _kind_words(target_type: str) -> str:
    return {
        "webhook_event": "Hint event",
        "options": "sync options",
        "backfill": "patients from Hint",
    }.get(target_type, target_type.replace("_", " "))


CSV_HEADER = [
    "time (UTC)",
    "person",
    "Hint support",
    "action",
    "what happened",
    "record type",
    "record id",
    "patient (Hint id)",
    "detail",
]


def csv_rows(entries: QuerySet[AuditEntry]) -> Iterator[list[Any]]:
    """The export's rows, formula-safe, streamed from the database in chunks."""
    yield CSV_HEADER
    for e in entries.iterator(chunk_size=2000):
        yield [
            e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            cell_safe(e.actor_label),
            "yes" if e.is_support else "no",
            e.action,
            ACTIONS.get(e.action, e.action),
            e.target_type,
            cell_safe(e.target_id),
            cell_safe(e.patient_hint_id),
            cell_safe(e.detail),
        ]


def record_history(*, hint: "HintContext", target: str = "", patient: str = "") -> dict[str, Any]:
    """A record page's own last entries and the link to all of them, for those who may see the
    Activity page (the same people: `view_settings`); empty for anyone else."""
    if not hint.has("view_settings"):
        return {}
    wanted = ActivityFilter(target=target, patient=patient)
    entries = list(entries_filter(practice=hint.practice, wanted=wanted)[:HISTORY_SIZE])
    return {
        "rows": rows_describe(practice=hint.practice, entries=entries),
        "url": url_with_session(
            reverse("handshake:activity"), hint.session_key, **wanted.as_query()
        ),
    }
