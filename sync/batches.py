"""Batch syncs: all Hint patients -> contacts, and a CSV of contact ids -> Hint patients.

Both run as a background task with a checkpoint, so a killed worker resumes where it stopped:
- patients -> contacts works a page of Hint's list at a time; a page's rows, contacts and the
  checkpoint (the list offset) commit together, so a page is done entirely or not at all. The
  writes owed to Hint (filled-in fields, our integration fields) are kept on each row
  (`push_body`) and sent in a second pass; a resumed run sends only those still owed.
- CSV contacts -> patients creates one row per contact at upload, at most two Hint requests per
  contact (a search by name, then one PATCH). Rows run as a pipeline: searches a few rows ahead,
  one PATCH at a time in a writer thread, and a row's link and outcome saved (one transaction)
  once Hint took its PATCH, while the next row's PATCH is in flight.
Abort is checked between pages and between rows. A rerun of a finished batch does nothing.
"""

import logging
import secrets
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from hintpartner.hint import api, errors
from hintpartner.hint.paths import PAGE_SIZE, PATIENT_ID
from sync import fieldmap
from sync.matching import normalize_name, patient_key, patient_matches
from sync.merge import MergeResult, Situation, merge
from sync.models import Batch, BatchRow, Contact, SyncLog, SyncOptions
from sync.services import (
    _apply_to_contact,
    _hint_error_text,
    _link_save,
    integration_fields,
    options_for,
    sync_log_write,
)

logger = logging.getLogger(__name__)

Outcome = BatchRow.Outcome
# A running batch not heard from for this long is shown as stalled, with a Resume button.
STALLED_AFTER_SECONDS = 120
SEARCH_LIMIT = 100
# CSV batch: how many rows ahead the (list) searches run, in threads.
SEARCH_AHEAD = 3
# Oldest first, so patients created while the batch runs land after the checkpoint.
LIST_ORDER = {"sort": "created_at"}


class BatchError(Exception):
    """A batch cannot start; the message is plain words for the page."""


class _Stop(Exception):
    """The run ends early (abort, or an error that stops the whole batch)."""


# --- starting, aborting, resuming ------------------------------------------------------------


def _new_sync_id() -> str:
    return "BS-" + timezone.now().strftime("%Y%m%d") + "-" + secrets.token_hex(4).upper()


def _ensure_none_active(practice: Any) -> None:
    active = Batch.objects.for_practice(practice).filter(status__in=Batch.ACTIVE_STATUSES)
    if active.exists():
        raise BatchError(
            "Another batch is still running. Wait for it to finish, or abort it, then start again."
        )


def batch_start_patients(*, practice: Any, actor: str) -> Batch:
    """Queue a batch that syncs every Hint patient to a contact."""
    from hintpartner.tasks import enqueue_on_commit
    from sync.tasks import batch_run_task

    with transaction.atomic():
        _ensure_none_active(practice)
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.PATIENTS_TO_CONTACTS,
            started_by=actor,
        )
        enqueue_on_commit(batch_run_task, batch.pk)
    return batch


def batch_start_csv(
    *,
    practice: Any,
    actor: str,
    contact_ids: list[int],
    source_name: str = "",
    ignored_lines: Iterable[str] = (),
) -> Batch:
    """Queue a batch for these contact ids (already checked to be this practice's contacts)."""
    from hintpartner.tasks import enqueue_on_commit
    from sync.tasks import batch_run_task

    with transaction.atomic():
        _ensure_none_active(practice)
        batch = Batch.objects.create(
            practice=practice,
            sync_id=_new_sync_id(),
            kind=Batch.Kind.CONTACTS_TO_PATIENTS,
            started_by=actor,
            total=len(contact_ids),
            source_name=source_name[:255],
            ignored_lines=list(ignored_lines)[:200],
        )
        BatchRow.objects.bulk_create(
            [
                BatchRow(
                    practice=batch.practice,
                    batch=batch,
                    position=i,
                    contact_id=cid,
                    contact_ref=str(cid),
                )
                for i, cid in enumerate(contact_ids, start=1)
            ],
            batch_size=1000,
        )
        enqueue_on_commit(batch_run_task, batch.pk)
    return batch


def batch_abort(*, batch: Batch, actor: str) -> Batch:
    """Ask a batch to stop; a queued or stalled batch stops at once."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if not batch.is_active:
            return batch
        if batch.status == Batch.Status.QUEUED or batch_is_stalled(batch):
            _finish(batch, Batch.Status.ABORTED, f"Aborted by {actor}.")
        else:
            batch.status = Batch.Status.ABORTING
            batch.message = f"Abort requested by {actor}."
            batch.save(update_fields=["status", "message", "updated_at"])
    return batch


def batch_is_stalled(batch: Batch) -> bool:
    """Running, but not heard from for a while: its worker was probably killed."""
    if batch.status not in (Batch.Status.RUNNING, Batch.Status.ABORTING):
        return False
    return (timezone.now() - batch.updated_at).total_seconds() > STALLED_AFTER_SECONDS


def batch_resume(*, batch: Batch) -> Batch:
    """Queue a stalled (or failed) batch again; it continues from its checkpoint."""
    from hintpartner.tasks import enqueue_on_commit
    from sync.tasks import batch_run_task

    if not (batch_is_stalled(batch) or batch.status == Batch.Status.FAILED):
        raise BatchError("This batch is not stalled; there is nothing to resume.")
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(
            status=Batch.Status.QUEUED, message="Resumed.", updated_at=timezone.now()
        )
        enqueue_on_commit(batch_run_task, batch.pk)
    batch.refresh_from_db()
    return batch


# --- running ---------------------------------------------------------------------------------


def _practice_token(practice: Any) -> str:
    from handshake.services import NotInstalled, practice_token

    try:
        return practice_token(practice)
    except NotInstalled as exc:
        raise _Stop(
            "The app is not installed for this practice any more; reinstall it in Hint."
        ) from exc


def _finish(batch: Batch, status: str, message: str = "") -> None:
    batch.status = status
    batch.finished_at = timezone.now()
    if message:
        batch.message = message
    batch.save(update_fields=["status", "finished_at", "message", "updated_at"])


def _check_abort(batch: Batch) -> None:
    status = Batch.objects.filter(pk=batch.pk).values_list("status", flat=True).first()
    if status in (Batch.Status.ABORTING, Batch.Status.ABORTED):
        raise _Stop("aborted")


def _recount(batch: Batch) -> None:
    rows = BatchRow.objects.filter(batch=batch).exclude(outcome=Outcome.PENDING)
    counts = dict(rows.values_list("outcome").annotate(n=Count("pk")).order_by())
    if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:  # CSV rows never owe a write
        owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False).count()
        if owed:
            counts["hint_writes_owed"] = owed
    batch.counts = counts
    batch.processed = sum(v for k, v in counts.items() if k != "hint_writes_owed")


def batch_run(*, batch_id: int) -> None:
    """The task body: run (or resume) one batch to its end, abort or failure."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status in (
            Batch.Status.DONE,
            Batch.Status.ABORTED,
        ):
            return  # a rerun of a finished batch does nothing
        if batch.status == Batch.Status.ABORTING:
            _finish(batch, Batch.Status.ABORTED)
            return
        batch.status = Batch.Status.RUNNING
        batch.started_at = batch.started_at or timezone.now()
        batch.save(update_fields=["status", "started_at", "updated_at"])
    practice = batch.practice
    try:
        token = _practice_token(practice)
        if batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS:
            _run_patients(batch, token)
            _send_owed(batch, token)
        else:
            _run_csv(batch, token)
    except _Stop as stop:
        _recount(batch)
        aborted = str(stop) == "aborted"
        _finish(
            batch,
            Batch.Status.ABORTED if aborted else Batch.Status.FAILED,
            "Aborted; the rows already done stay done." if aborted else str(stop),
        )
        if not aborted:
            sync_log_write(
                practice=practice,
                level=SyncLog.Level.ERROR,
                message="A batch stopped.",
                detail=str(stop),
                batch_sync_id=batch.sync_id,
            )
        return
    except Exception as exc:
        batch.refresh_from_db()
        _recount(batch)
        _finish(batch, Batch.Status.FAILED, "The batch stopped on an unexpected error; resume it.")
        sync_log_write(
            practice=practice,
            level=SyncLog.Level.EXCEPTION,
            message="A batch stopped on an unexpected error.",
            detail=f"{type(exc).__name__}: {exc}"[:2000],
            batch_sync_id=batch.sync_id,
        )
        raise
    _recount(batch)
    done_message = "Finished."
    if batch.counts.get("hint_writes_owed"):
        done_message = "Finished; some changes could not be written to Hint (see the rows)."
    _finish(batch, Batch.Status.DONE, done_message)


def _hint_stop(batch: Batch, exc: errors.HintError) -> None:
    """Errors that stop the whole batch: Hint refuses our token."""
    if isinstance(exc, errors.HintUnauthorized | errors.HintWrongKey):
        from handshake.services import practice_mark_disconnected

        practice_mark_disconnected(practice=batch.practice)
        raise _Stop(
            "Hint refused the practice's access; the app shows as disconnected. Reconnect it "
            "in Hint's settings, then resume the batch."
        ) from exc


# --- patients -> contacts --------------------------------------------------------------------


def _run_patients(batch: Batch, token: str) -> None:
    """Page by page from the checkpoint; the next page is read (a list call, in a thread) while
    this one is written here, so Hint's latency and our database work overlap."""
    options = options_for(batch.practice)
    offset = batch.checkpoint
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="patients-page") as pool:
        upcoming = _page_submit(pool, token, offset)
        try:
            while True:
                _check_abort(batch)
                try:
                    items, total = upcoming.result()
                except errors.HintError as exc:
                    _hint_stop(batch, exc)
                    raise _Stop(
                        "Reading Hint's patients failed: "
                        + _hint_error_text(exc)
                        + " Resume the batch."
                    ) from exc
                full = len(items) >= PAGE_SIZE
                if full:
                    upcoming = _page_submit(pool, token, offset + len(items))
                with transaction.atomic():
                    _patients_page(
                        batch, items, first_position=offset + 1, create=_create_opt(options)
                    )
                    offset += len(items)
                    batch.checkpoint = offset
                    if total is not None:
                        batch.total = total
                    elif not full:
                        batch.total = offset
                    batch.save(
                        update_fields=["checkpoint", "total", "counts", "processed", "updated_at"]
                    )
                if not full:
                    return
        finally:
            upcoming.cancel()


def _page_submit(pool: ThreadPoolExecutor, token: str, offset: int) -> Future:
    return pool.submit(
        api.patients_page, token=token, offset=offset, limit=PAGE_SIZE, params=LIST_ORDER
    )


def _create_opt(options: Any) -> bool:
    return bool(options.create_contacts_when_batch_unmatched)


def _patients_page(
    batch: Batch, items: list[dict[str, Any]], *, first_position: int, create: bool
) -> None:
    """Handle one page of patients with a few queries for the whole page."""
    practice = batch.practice
    patients = [p for p in items if isinstance(p, dict) and p.get(PATIENT_ID)]
    ids = [str(p[PATIENT_ID]) for p in patients]
    contacts = Contact.objects.for_practice(practice)
    linked = {c.hint_patient_id: c for c in contacts.filter(hint_patient_id__in=ids)}
    keys = {patient_key(p) for p in patients}
    keys = {k for k in keys if all(k)}
    by_key: dict[tuple, list[Contact]] = {}
    # Narrow on all three parts (the demographic index); the exact pairs are checked below.
    candidates = contacts.filter(
        hint_patient_id="",
        last_name_key__in={k[1] for k in keys},
        first_name_key__in={k[0] for k in keys},
        dob__in={k[2] for k in keys},
    )
    for c in candidates if keys else []:
        dob = c.dob.isoformat() if c.dob else ""
        by_key.setdefault((c.first_name_key, c.last_name_key, dob), []).append(c)
    rows: list[BatchRow] = []
    new_contacts: list[tuple[Contact, BatchRow]] = []
    taken: set[int] = set()
    for position, data in enumerate(items, start=first_position):
        row = BatchRow(practice=practice, batch=batch, position=position)
        rows.append(row)
        if not isinstance(data, dict) or not data.get(PATIENT_ID):
            row.outcome, row.message = Outcome.ERROR, "Hint sent a patient without an id."
            continue
        pid = str(data[PATIENT_ID])
        row.patient_id = pid
        row.name = " ".join(str(data.get(k) or "") for k in ("first_name", "last_name")).strip()
        theirs = fieldmap.patient_values(data)
        if pid in linked:
            contact = linked[pid]
            row.contact = contact
            result = merge(
                situation=Situation.PATIENT_UPDATED,
                contact=fieldmap.contact_values(contact),
                patient=theirs,
            )
            changed = _apply_to_contact(contact, result.contact_updates)
            if changed:
                contact.last_batch_sync_id = batch.sync_id
                contact.last_synced_at = timezone.now()
                contact.save()
            row.outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
            continue
        candidates = [c for c in by_key.get(patient_key(data), []) if c.pk not in taken]
        if len(candidates) > 1:
            row.outcome = Outcome.SKIPPED_MULTIPLE
            row.message = f"{len(candidates)} contacts match this patient's name and birth date."
            continue
        if candidates:
            contact = candidates[0]
            taken.add(contact.pk)
            result = merge(
                situation=Situation.BATCH_PATIENTS,
                contact=fieldmap.contact_values(contact),
                patient=theirs,
            )
            _apply_to_contact(contact, result.contact_updates)
            contact.hint_patient_id = pid
            contact.last_batch_sync_id = batch.sync_id
            contact.last_synced_at = timezone.now()
            contact.save()
            linked[pid] = contact
            row.contact, row.outcome = contact, Outcome.LINKED
            row.push_body = _owed(contact, result, data)
        elif create:
            contact = Contact(practice=practice, hint_patient_id=pid)
            fieldmap.contact_fill_new(contact, theirs)
            contact.last_batch_sync_id = batch.sync_id
            contact.last_synced_at = timezone.now()
            contact.refresh_keys()
            new_contacts.append((contact, row))
            row.outcome = Outcome.CREATED
        else:
            row.outcome = Outcome.NO_MATCH
    if new_contacts:
        Contact.objects.bulk_create([c for c, _ in new_contacts], batch_size=500)
        for contact, row in new_contacts:
            row.contact = contact
            row.push_body = _owed(contact, MergeResult(), None)
    # A resumed page may already have rows from a killed run that did not commit: none exist,
    # because the page commits as a whole; ignore_conflicts only guards a manual rerun.
    BatchRow.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    _count_page(batch, rows)


def _count_page(batch: Batch, rows: list[BatchRow]) -> None:
    """Add a page's outcomes to the batch's counts (no rescan of earlier rows: O(page))."""
    counts = Counter(batch.counts or {})
    counts.update(row.outcome for row in rows)
    owed = sum(1 for row in rows if row.push_body is not None)
    if owed:
        counts["hint_writes_owed"] += owed
    batch.counts = dict(counts)
    batch.processed = sum(v for k, v in counts.items() if k != "hint_writes_owed")


def _owed(contact: Contact, result: MergeResult, data: dict[str, Any] | None) -> dict[str, Any]:
    body = fieldmap.patient_payload(result.patient_updates, patient=data)
    body.update(integration_fields(contact))
    return body


def _send_owed(batch: Batch, token: str) -> None:
    """Second pass: send each row's owed write to Hint (one PATCH per linked patient). A writer
    thread sends them one at a time (one detail call in batch work); this thread records each
    answer while the next PATCH is in flight."""
    owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False).order_by("position")
    last = 0
    _recount(batch)  # once: a resumed run may find writes sent before the counts were saved
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-back") as writer:
        while True:
            chunk = list(owed.filter(position__gt=last)[:200])
            if not chunk:
                return
            _check_abort(batch)
            sends = [
                (row, writer.submit(_patch, token, row.patient_id, row.push_body)) for row in chunk
            ]
            sent = 0
            try:
                for row, send in sends:
                    sent += _owed_recorded(batch, row, send)
            finally:
                for _row, send in sends:  # stopping early: writes not started are not sent
                    send.cancel()
            last = chunk[-1].position
            with transaction.atomic():
                counts = dict(batch.counts or {})
                counts["hint_writes_owed"] = max(0, counts.get("hint_writes_owed", 0) - sent)
                if not counts["hint_writes_owed"]:
                    del counts["hint_writes_owed"]
                batch.counts = counts
                batch.save(update_fields=["counts", "updated_at"])


def _patch(token: str, patient_id: str, fields: dict[str, Any]) -> None:
    api.patient_update(token=token, patient_id=patient_id, fields=fields)


def _owed_recorded(batch: Batch, row: BatchRow, send: Future) -> int:
    """1 when Hint took the row's write (no longer owed), 0 when it refused (kept, explained)."""
    try:
        send.result()
    except errors.HintError as exc:
        _hint_stop(batch, exc)
        row.message = ("Linked here; Hint not updated: " + _hint_error_text(exc))[:500]
        row.save(update_fields=["message", "updated_at"])
        return 0
    row.push_body = None
    row.save(update_fields=["push_body", "updated_at"])
    return 1


# --- CSV contacts -> patients ----------------------------------------------------------------


def _run_csv(batch: Batch, token: str) -> None:
    """Rows in order, as a pipeline: the searches of the next rows run ahead in threads (list
    calls, which Hint allows concurrently); one writer thread sends the PATCHes, one at a time
    (detail calls in batch work: one at a time); and while row N+1's PATCH is in flight, this
    thread saves row N's link. A row is linked only once Hint took its write."""
    options = options_for(batch.practice)
    pending = BatchRow.objects.filter(batch=batch, outcome=Outcome.PENDING).order_by("position")
    rows = pending.select_related("contact").iterator(chunk_size=200)
    window: deque[tuple[BatchRow, Future | None]] = deque()
    in_flight: _Write | None = None
    with (
        ThreadPoolExecutor(max_workers=SEARCH_AHEAD, thread_name_prefix="csv-search") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-write") as writer,
    ):

        def ahead() -> None:
            row = next(rows, None)
            if row is not None:
                window.append((row, _search_submit(pool, row, token)))

        for _ in range(SEARCH_AHEAD + 1):
            ahead()
        done = 0
        try:
            while window:
                row, search = window.popleft()
                ahead()
                done += 1
                if done % 20 == 1:
                    _check_abort(batch)
                # A patient whose write is still in flight counts as linked already.
                claimed = {in_flight.patient_id} if in_flight else set()
                write = _csv_row(batch, row, token, search, options, claimed)
                if write is not None:
                    write.sent = writer.submit(
                        api.patient_update,
                        token=token,
                        patient_id=write.patient_id,
                        fields=write.body,
                    )
                previous, in_flight = in_flight, write
                if previous is not None:
                    _csv_finish(batch, previous, options)
                if done % 20 == 0:
                    _progress(batch, row.position)
        except BaseException:
            # Stopping early: the write already sent is recorded, searches not started dropped.
            for _row, search in window:
                if search is not None:
                    search.cancel()
            if in_flight is not None:
                with suppress(_Stop):  # the same stop (a refused token) again
                    _csv_finish(batch, in_flight, options)
            raise
        if in_flight is not None:
            _csv_finish(batch, in_flight, options)
    _progress(batch, batch.total)


def _search_key(contact: Contact | None) -> tuple[str, str, str]:
    if contact is None:
        return ("", "", "")
    return (
        normalize_name(contact.first_name),
        normalize_name(contact.last_name),
        contact.dob.isoformat() if contact.dob else "",
    )


def _search_submit(pool: ThreadPoolExecutor, row: BatchRow, token: str) -> Future | None:
    """Start the Hint search a row will need (none for rows that will be skipped)."""
    contact = row.contact
    if contact is None or contact.hint_patient_id or not all(_search_key(contact)):
        return None
    return pool.submit(_search, token, contact)


def _search(token: str, contact: Contact) -> list[dict[str, Any]]:
    """Hint patients with the contact's first and last name (Hint's case-insensitive filters);
    both names, so a common last name does not push the match past the page."""
    return api.patients_search(
        token=token,
        limit=SEARCH_LIMIT,
        last_name=contact.last_name.strip(),
        first_name=contact.first_name.strip(),
    )


def _progress(batch: Batch, position: int) -> None:
    with transaction.atomic():
        _recount(batch)
        batch.checkpoint = position
        batch.save(update_fields=["counts", "processed", "checkpoint", "updated_at"])


def _row_done(row: BatchRow, outcome: str, message: str = "", patient_id: str = "") -> None:
    row.outcome, row.message = outcome, message[:500]
    if patient_id:
        row.patient_id = patient_id
    row.save(update_fields=["outcome", "message", "patient_id", "name", "updated_at"])


@dataclass
class _Write:
    """A CSV row matched to one patient: the PATCH owed to Hint, then the link saved here."""

    row: BatchRow
    contact: Contact
    patient_id: str
    result: MergeResult
    body: dict[str, Any]
    sent: Future | None = None


def _csv_row(
    batch: Batch,
    row: BatchRow,
    token: str,
    search: Future | None = None,
    options: SyncOptions | None = None,
    claimed: set[str] | frozenset[str] = frozenset(),
) -> _Write | None:
    """One contact of the CSV: match it in Hint (1 request) and say what to write (1 request),
    or finish the row here when there is nothing to write (skipped, no match, an error).

    The match is exact on normalized names and birth date, checked here on Hint's answer.
    """
    contact = row.contact
    if contact is None:
        _row_done(row, Outcome.ERROR, "The contact was deleted after the file was uploaded.")
        return None
    row.name = contact.full_name
    if contact.hint_patient_id:
        _row_done(row, Outcome.SKIPPED_LINKED, "Already linked.", contact.hint_patient_id)
        return None
    key = _search_key(contact)
    if not all(key):
        _row_done(
            row, Outcome.NO_MATCH, "The contact needs a first name, last name and birth date."
        )
        return None
    try:
        candidates = _search(token, contact) if search is None else search.result()
    except errors.HintError as exc:
        _hint_stop(batch, exc)
        _row_done(row, Outcome.ERROR, "Searching Hint failed: " + _hint_error_text(exc))
        return None
    matches = patient_matches(candidates=candidates, key=key)
    if not matches:
        _row_done(row, Outcome.NO_MATCH, "No Hint patient has this name and birth date.")
        return None
    if len(matches) > 1:
        _row_done(row, Outcome.SKIPPED_MULTIPLE, f"{len(matches)} Hint patients match.")
        return None
    data = matches[0]
    pid = str(data.get(PATIENT_ID) or "")
    linked = Contact.objects.for_practice(batch.practice).filter(hint_patient_id=pid).exists()
    if linked or pid in claimed:
        _row_done(
            row, Outcome.SKIPPED_PATIENT_LINKED, "The patient is linked to another contact.", pid
        )
        return None
    result = merge(
        situation=Situation.BATCH_CSV,
        contact=fieldmap.contact_values(contact),
        patient=fieldmap.patient_values(data),
    )
    return _Write(row, contact, pid, result, _owed(contact, result, data))


def _csv_finish(batch: Batch, write: _Write, options: SyncOptions | None) -> None:
    """Wait for the row's PATCH; link and record the row once Hint took it, else the error."""
    row, pid = write.row, write.patient_id
    try:
        if write.sent is not None:
            write.sent.result()
    except errors.HintError as exc:
        _hint_stop(batch, exc)
        _row_done(row, Outcome.ERROR, "Hint refused the update: " + _hint_error_text(exc), pid)
        return
    with transaction.atomic():
        _link_save(
            contact=write.contact,
            patient_id=pid,
            result=write.result,
            actor=f"batch {batch.sync_id}",
            batch_sync_id=batch.sync_id,
            options=options,
            refresh=False,
        )
        _row_done(row, Outcome.LINKED, "", pid)


def outcome_counts(batch: Batch) -> list[tuple[str, str, int]]:
    """(outcome, label, count) for the results page, in the order of the outcome list."""
    counts = Counter(batch.counts or {})
    return [(value, label, counts[value]) for value, label in Outcome.choices if counts[value]]
