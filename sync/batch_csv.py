"""Batch: a CSV of contact ids -> Hint patients (contact wins; skips linked contacts, patients
linked elsewhere, and multiple matches).

One row per contact, created at upload; at most two Hint requests per contact: a search by
name, then one PATCH. A row is linked here only once Hint took its PATCH. Rows run through
`sync.pipeline`: searches a few rows ahead, one PATCH at a time, and a row's link and outcome
saved (one transaction) while the next row's PATCH is in flight. `csv_decide` is the one
decision for a row: the run acts on it, a plan keeps it on the row (no write), an applied plan
compares it with the planned one (`sync.plans`).
"""

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.address_shape import practice_address_shape
from handshake.audit import Actor
from handshake.hint_access import PracticeApi
from hintpartner.hint import errors
from hintpartner.hint.paths import PATIENT_FIELDS, PATIENT_ID
from hintpartner.hint.policy import error_sentence
from sync import fieldmap, plans
from sync.batch_progress import AbortWatch, BatchStopped, batch_recount, stop_if_token_refused
from sync.contacts import link_save
from sync.matching import contact_key, has_demographics, patient_matches
from sync.merge import MergeResult, Situation, field_changes, merge
from sync.models import Batch, BatchRow, Contact, SyncOptions
from sync.options import options_for
from sync.outbound import link_body
from sync.pipeline import Pipeline

Outcome = BatchRow.Outcome
UPDATED_AT = PATIENT_FIELDS["updated_at"]
SEARCH_LIMIT = 100
# How many rows ahead the (list) searches run, in threads.
SEARCH_AHEAD = 3
# Progress is saved every this many rows (an abort is looked for at least every second).
PROGRESS_EVERY = 20


@dataclass
class Write:
    """A row matched to one patient: the PATCH owed to Hint, then the link saved here."""

    row: BatchRow
    contact: Contact
    patient_id: str
    result: MergeResult
    body: dict[str, Any]


def batch_csv_run(batch: Batch, hint: PracticeApi) -> None:
    """Every pending row in order; a row is linked only once Hint took its write. A plan only
    decides each row (nothing is written); an applied plan follows its rows."""
    options = options_for(batch.practice)
    rows = _pending_rows(batch)
    pipe: Pipeline[BatchRow, Write] = Pipeline(
        ahead=SEARCH_AHEAD,
        read=partial(_search_needed, hint),
        done=partial(_write_landed, batch, options),
        name="csv",
        quiet_on_stop=(BatchStopped,),  # a refused token, again for the write in flight
    )
    # Patients a plan links on earlier rows are linked already for the rows after them.
    planned = _plan_claimed(batch) if batch.is_planning else set()
    watch = AbortWatch(batch, hint)
    watch.check()
    with pipe:
        for done, (row, search) in enumerate(pipe.rows(rows), start=1):
            # Before the row's PATCH: once an abort is seen, only the PATCH in flight is sent.
            watch.tick()
            if batch.is_planning:
                decision = _row_decide(batch, row, hint, search, planned)
                _row_planned(row, decision, csv_changes(row.contact, decision))
                if decision.outcome == Outcome.LINKED:
                    planned.add(decision.patient_id)
                pipe.send(None)
                continue
            # A patient whose write is still in flight counts as linked already.
            claimed = {pipe.in_flight.patient_id} if pipe.in_flight else set()
            write = csv_row_step(batch, row, hint, search, claimed)
            if write is None:
                pipe.send(None)
            else:
                pipe.send(
                    write,
                    partial(hint.patient_update, patient_id=write.patient_id, fields=write.body),
                )
            if done % PROGRESS_EVERY == 0:
                _progress(batch, row.position)
    _progress(batch, batch.total)


def _plan_claimed(batch: Batch) -> set[str]:
    rows = BatchRow.objects.filter(batch=batch, outcome=Outcome.LINKED).exclude(patient_id="")
    return set(rows.values_list("patient_id", flat=True))


def _pending_rows(batch: Batch, *, chunk: int = 200) -> Iterator[BatchRow]:
    """The batch's pending rows in order, read a chunk at a time by position.

    Not one cursor over the whole batch: on SQLite an open read pins its snapshot, and the row's
    own writes (and the Hint budget's, from the pipeline's threads) then cannot take the write
    lock ("database is locked").
    """
    pending = BatchRow.objects.filter(batch=batch, outcome=Outcome.PENDING).order_by("position")
    last = 0
    while rows := list(pending.filter(position__gt=last).select_related("contact")[:chunk]):
        yield from rows
        last = rows[-1].position


@dataclass
class CsvDecision:
    """What one contact of the CSV does: the one decision a run, a plan and an applied plan
    share. LINKED names the single matching `patient` and the merge."""

    outcome: str
    message: str = ""
    patient_id: str = ""
    patient: dict[str, Any] | None = None
    result: MergeResult | None = None
    fingerprint: str = ""


def csv_decide(
    practice: Any,
    contact: Contact | None,
    candidates: list[dict[str, Any]] | errors.HintError | None,
    claimed: set[str] | frozenset[str] = frozenset(),
) -> CsvDecision:
    """Decide one contact from Hint's search answer (`candidates`; None when no search was
    needed). The match is exact on normalized names and birth date, checked here on Hint's
    answer. Writes nothing; one query (is the patient linked here already?)."""
    if contact is None:
        return CsvDecision(Outcome.ERROR, "The contact was deleted after the file was uploaded.")
    seen = [contact.pk, plans.stamp(contact.updated_at)]
    if contact.hint_patient_id:
        return CsvDecision(
            Outcome.SKIPPED_LINKED,
            "Already linked.",
            contact.hint_patient_id,
            fingerprint=plans.fingerprint(seen, contact.hint_patient_id),
        )
    key = contact_key(contact)
    if not has_demographics(key):
        return CsvDecision(
            Outcome.NO_MATCH,
            "The contact needs a first name, last name and birth date.",
            fingerprint=plans.fingerprint(seen),
        )
    if isinstance(candidates, errors.HintError):
        return CsvDecision(Outcome.ERROR, "Searching Hint failed: " + error_sentence(candidates))
    matches = patient_matches(candidates=candidates or [], key=key)
    seen.append(sorted((str(p.get(PATIENT_ID)), str(p.get(UPDATED_AT) or "")) for p in matches))
    if not matches:
        return CsvDecision(
            Outcome.NO_MATCH,
            "No Hint patient has this name and birth date.",
            fingerprint=plans.fingerprint(seen),
        )
    if len(matches) > 1:
        return CsvDecision(
            Outcome.SKIPPED_MULTIPLE,
            f"{len(matches)} Hint patients match.",
            fingerprint=plans.fingerprint(seen),
        )
    data = matches[0]
    pid = str(data.get(PATIENT_ID) or "")
    theirs = fieldmap.patient_values(data)
    linked = Contact.objects.for_practice(practice).filter(hint_patient_id=pid).exists()
    linked = linked or pid in claimed
    print_ = plans.fingerprint(seen, theirs, linked)
    if linked:
        return CsvDecision(
            Outcome.SKIPPED_PATIENT_LINKED,
            "The patient is linked to another contact.",
            pid,
            fingerprint=print_,
        )
    ours = fieldmap.contact_values(contact)
    result = merge(situation=Situation.BATCH_CSV, contact=ours, patient=theirs)
    return CsvDecision(Outcome.LINKED, "", pid, data, result, print_)


def csv_changes(contact: Contact | None, decision: CsvDecision) -> list[dict]:
    """The fields a decision changes on either side (`merge.field_changes`), for a plan."""
    if decision.outcome != Outcome.LINKED or contact is None or decision.patient is None:
        return []
    changes = field_changes(
        situation=Situation.BATCH_CSV,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(decision.patient),
    )
    return plans.changes_saved(changes)


def _row_decide(
    batch: Batch,
    row: BatchRow,
    hint: PracticeApi,
    search: Future | None,
    claimed: set[str] | frozenset[str],
) -> CsvDecision:
    """Search Hint for the row's contact (unless it needs no search) and decide it."""
    contact = row.contact
    if contact is not None:
        row.name = contact.full_name
    candidates: list[dict[str, Any]] | errors.HintError | None = None
    if contact is not None and _search_needed(hint, row) is not None:
        try:
            candidates = search.result() if search is not None else _search(hint, contact)
        except errors.HintError as exc:
            stop_if_token_refused(exc)
            candidates = exc
    return csv_decide(batch.practice, contact, candidates, claimed)


def csv_row_step(
    batch: Batch,
    row: BatchRow,
    hint: PracticeApi,
    search: Future | None = None,
    claimed: set[str] | frozenset[str] = frozenset(),
) -> Write | None:
    """One contact of the CSV: match it in Hint (1 request) and say what to write (1 request),
    or finish the row here when there is nothing to write (skipped, no match, an error). An
    applied plan flags a row whose inputs changed since the plan (decided again here)."""
    decision = _row_decide(batch, row, hint, search, claimed)
    contact = row.contact
    if batch.is_plan and (
        decision.fingerprint != row.fingerprint or decision.outcome != row.planned_outcome
    ):
        row.redecided = True
        row.changes = csv_changes(contact, decision)
        note = plans.redecided_note(row.planned_outcome, decision.outcome)
        decision.message = f"{note} {decision.message}".strip()
    if decision.outcome != Outcome.LINKED:
        _row_done(row, decision.outcome, decision.message, decision.patient_id)
        return None
    assert contact is not None and decision.patient is not None and decision.result is not None
    body = link_body(
        contact,
        decision.result.patient_updates,
        decision.patient,
        address_shape=practice_address_shape(batch.practice),
    )
    return Write(row, contact, decision.patient_id, decision.result, body)


def _row_planned(row: BatchRow, decision: CsvDecision, changes: list[dict]) -> None:
    row.outcome = row.planned_outcome = decision.outcome
    row.message, row.patient_id = decision.message[:500], decision.patient_id
    row.changes, row.fingerprint = changes, decision.fingerprint
    row.save(
        update_fields=[
            *("outcome", "planned_outcome", "message", "patient_id", "name", "changes"),
            *("fingerprint", "updated_at"),
        ]
    )


def _write_landed(batch: Batch, options: SyncOptions, write: Write, sent: Future) -> None:
    """Hint answered the row's PATCH: link and record the row if it took it, else the error."""
    row, pid = write.row, write.patient_id
    try:
        sent.result()
    except errors.HintError as exc:
        stop_if_token_refused(exc)
        _row_done(row, Outcome.ERROR, "Hint refused the update: " + error_sentence(exc), pid)
        return
    with transaction.atomic():
        link_save(
            contact=write.contact,
            patient_id=pid,
            result=write.result,
            actor=Actor.background(f"batch {batch.sync_id}"),
            batch_sync_id=batch.sync_id,
            options=options,
            refresh=False,
        )
        row.written_at = timezone.now()
        _row_done(row, Outcome.LINKED, "", pid)


def _search_needed(hint: PracticeApi, row: BatchRow) -> partial | None:
    """The Hint search a row will need (none for rows that will be skipped)."""
    contact = row.contact
    if contact is None or contact.hint_patient_id or not has_demographics(contact_key(contact)):
        return None
    return partial(_search, hint, contact)


def _search(hint: PracticeApi, contact: Contact) -> list[dict[str, Any]]:
    """Hint patients with the contact's first and last name (Hint's case-insensitive filters);
    both names, so a common last name does not push the match past the page."""
    return hint.patients_search(
        limit=SEARCH_LIMIT,
        last_name=contact.last_name.strip(),
        first_name=contact.first_name.strip(),
    )


def _progress(batch: Batch, position: int) -> None:
    with transaction.atomic():
        batch_recount(batch)
        batch.checkpoint = position
        batch.save(update_fields=["counts", "processed", "checkpoint", "updated_at"])


def _row_done(row: BatchRow, outcome: str, message: str = "", patient_id: str = "") -> None:
    row.outcome, row.message = outcome, message[:500]
    if patient_id:
        row.patient_id = patient_id
    row.save(
        update_fields=[
            *("outcome", "message", "patient_id", "name", "written_at", "redecided", "changes"),
            "updated_at",
        ]
    )
