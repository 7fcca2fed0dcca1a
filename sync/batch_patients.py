"""Batch: all Hint patients -> contacts (patient wins; exact single match links, none creates).

Works a page of Hint's list at a time; a page's rows, contacts and the checkpoint (the list
offset) commit together, so a page is done entirely or not at all. What each patient does is
`sync.linking.patient_link_decide`, the rule webhooks use too; this module only gathers a page's
candidates with a few queries and writes the page in bulk. The writes owed to Hint (filled-in
fields, our integration fields) are kept on each row (`push_body`) and sent in a second pass;
a resumed run sends only those still owed.
"""

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.hint_access import PracticeApi
from hintpartner.hint import errors
from hintpartner.hint.paths import PAGE_SIZE, PATIENT_ID
from hintpartner.hint.policy import error_sentence
from sync import fieldmap
from sync.batch_progress import (
    WRITES_OWED,
    BatchStopped,
    Outcome,
    abort_check,
    batch_recount,
    stop_if_token_refused,
)
from sync.linking import Decision, patient_link_decide
from sync.linking import Outcome as Link
from sync.matching import patient_key
from sync.merge import Situation
from sync.models import Batch, BatchRow, Contact
from sync.options import options_for
from sync.outbound import link_body

# Oldest first, so patients created while the batch runs land after the checkpoint.
LIST_ORDER = {"sort": "created_at"}

_ROW_OUTCOME = {
    Link.LINKED: Outcome.LINKED,
    Link.CREATED: Outcome.CREATED,
    Link.UPDATED: Outcome.UPDATED,
    Link.UNCHANGED: Outcome.UNCHANGED,
    Link.MULTIPLE: Outcome.SKIPPED_MULTIPLE,
    Link.NO_MATCH: Outcome.NO_MATCH,
}


def batch_patients_run(batch: Batch, hint: PracticeApi) -> None:
    """Read and apply every page from the checkpoint, then send the writes owed to Hint."""
    pages_apply(batch, hint)
    send_owed(batch, hint)


def pages_apply(batch: Batch, hint: PracticeApi) -> None:
    """Page by page from the checkpoint; the next page is read (a list call, in a thread) while
    this one is written here, so Hint's latency and our database work overlap."""
    create = bool(options_for(batch.practice).create_contacts_when_batch_unmatched)
    offset = batch.checkpoint
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="patients-page") as pool:
        upcoming = _page_read(pool, hint, offset)
        try:
            while True:
                abort_check(batch)
                try:
                    items, total = upcoming.result()
                except errors.HintError as exc:
                    stop_if_token_refused(exc)
                    raise BatchStopped(
                        f"Reading Hint's patients failed: {error_sentence(exc)} Resume the batch."
                    ) from exc
                full = len(items) >= PAGE_SIZE
                if full:
                    upcoming = _page_read(pool, hint, offset + len(items))
                with transaction.atomic():
                    page_apply(batch, items, first_position=offset + 1, create=create)
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


def _page_read(pool: ThreadPoolExecutor, hint: PracticeApi, offset: int) -> Future:
    return pool.submit(hint.patients_page, offset=offset, limit=PAGE_SIZE, params=LIST_ORDER)


def _page_contacts(
    practice: Any, patients: list[dict[str, Any]]
) -> tuple[dict[str, Contact], dict[tuple, list[Contact]]]:
    """The page's linked contacts by patient id, and its unlinked candidates by demographic key
    (two queries for the whole page)."""
    ids = [str(p[PATIENT_ID]) for p in patients]
    contacts = Contact.objects.for_practice(practice)
    linked = {c.hint_patient_id: c for c in contacts.filter(hint_patient_id__in=ids)}
    keys = {k for k in (patient_key(p) for p in patients) if all(k)}
    by_key: dict[tuple, list[Contact]] = {}
    if not keys:
        return linked, by_key
    # Narrow on all three parts (the demographic index); the exact pairs are keyed below.
    candidates = contacts.filter(
        hint_patient_id="",
        last_name_key__in={k[1] for k in keys},
        first_name_key__in={k[0] for k in keys},
        dob__in={k[2] for k in keys},
    )
    for c in candidates:
        dob = c.dob.isoformat() if c.dob else ""
        by_key.setdefault((c.first_name_key, c.last_name_key, dob), []).append(c)
    return linked, by_key


def page_apply(
    batch: Batch, items: list[dict[str, Any]], *, first_position: int, create: bool
) -> None:
    """Decide and write one page of patients, with a few queries for the whole page."""
    practice = batch.practice
    patients = [p for p in items if isinstance(p, dict) and p.get(PATIENT_ID)]
    linked, by_key = _page_contacts(practice, patients)
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
        decision = patient_link_decide(
            patient=data,
            linked=linked.get(pid),
            candidates=by_key.get(patient_key(data), []),
            situation=Situation.BATCH_PATIENTS,
            create=create,
            taken=taken,
        )
        row.outcome, row.contact = _ROW_OUTCOME[decision.outcome], decision.contact
        if decision.outcome is Link.MULTIPLE:
            row.message = f"{decision.matches} contacts match this patient's name and birth date."
        elif decision.outcome is Link.CREATED:
            new_contacts.append((_contact_new(batch, pid, decision), row))
        elif decision.outcome in (Link.UPDATED, Link.LINKED):
            contact = _contact_take(batch, pid, decision)
            if decision.makes_link:
                taken.add(contact.pk)
                linked[pid] = contact
                row.push_body = link_body(contact, decision.patient_updates, data)
    if new_contacts:
        Contact.objects.bulk_create([c for c, _ in new_contacts], batch_size=500)
        for contact, row in new_contacts:
            row.contact = contact
            row.push_body = link_body(contact, {}, None)
    # A resumed page may already have rows from a killed run that did not commit: none exist,
    # because the page commits as a whole; ignore_conflicts only guards a manual rerun.
    BatchRow.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    _page_count(batch, rows)


def _contact_take(batch: Batch, patient_id: str, decision: Decision) -> Contact:
    """An existing contact takes the decided values (and the link, for a new one); saved."""
    contact = decision.contact
    assert contact is not None  # updated and linked decisions name their contact
    fieldmap.contact_assign(contact, decision.contact_updates)
    contact.hint_patient_id = patient_id
    contact.last_batch_sync_id = batch.sync_id
    contact.last_synced_at = timezone.now()
    contact.save()
    return contact


def _contact_new(batch: Batch, patient_id: str, decision: Decision) -> Contact:
    """An unsaved contact for a patient without a match (the page creates them in bulk)."""
    contact = Contact(practice=batch.practice, hint_patient_id=patient_id)
    fieldmap.contact_fill_new(contact, decision.contact_updates)
    contact.last_batch_sync_id = batch.sync_id
    contact.last_synced_at = timezone.now()
    contact.refresh_keys()
    return contact


def _page_count(batch: Batch, rows: list[BatchRow]) -> None:
    """Add a page's outcomes to the batch's counts (no rescan of earlier rows: O(page))."""
    counts = Counter(batch.counts or {})
    counts.update(row.outcome for row in rows)
    owed = sum(1 for row in rows if row.push_body is not None)
    if owed:
        counts[WRITES_OWED] += owed
    batch.counts = dict(counts)
    batch.processed = sum(v for k, v in counts.items() if k != WRITES_OWED)


# --- second pass: the writes owed to Hint ----------------------------------------------------


def send_owed(batch: Batch, hint: PracticeApi) -> None:
    """Send each row's owed write to Hint (one PATCH per linked patient). A writer thread sends
    them one at a time (one detail call in batch work); this thread records each answer while
    the next PATCH is in flight."""
    owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False).order_by("position")
    last = 0
    batch_recount(batch)  # once: a resumed run may find writes sent before the counts were saved
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-back") as writer:
        while True:
            chunk = list(owed.filter(position__gt=last)[:200])
            if not chunk:
                return
            abort_check(batch)
            sends = [
                (
                    row,
                    writer.submit(
                        hint.patient_update, patient_id=row.patient_id, fields=row.push_body
                    ),
                )
                for row in chunk
            ]
            sent = 0
            try:
                for row, send in sends:
                    sent += _owed_recorded(row, send)
            finally:
                for _row, send in sends:  # stopping early: writes not started are not sent
                    send.cancel()
            last = chunk[-1].position
            with transaction.atomic():
                counts = dict(batch.counts or {})
                counts[WRITES_OWED] = max(0, counts.get(WRITES_OWED, 0) - sent)
                if not counts[WRITES_OWED]:
                    del counts[WRITES_OWED]
                batch.counts = counts
                batch.save(update_fields=["counts", "updated_at"])


def _owed_recorded(row: BatchRow, send: Future) -> int:
    """1 when Hint took the row's write (no longer owed), 0 when it refused (kept, explained)."""
    try:
        send.result()
    except errors.HintError as exc:
        stop_if_token_refused(exc)
        row.message = ("Linked here; Hint not updated: " + error_sentence(exc))[:500]
        row.save(update_fields=["message", "updated_at"])
        return 0
    row.push_body = None
    row.save(update_fields=["push_body", "updated_at"])
    return 1
