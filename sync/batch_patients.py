"""Batch: all Hint patients -> contacts (patient wins; exact single match links, none creates).

Works a page of Hint's list at a time; a page's rows, contacts and the checkpoint (the list
offset) commit together, so a page is done entirely or not at all. What each patient does is
`sync.linking.patient_link_decide`, the rule webhooks use too; this module only gathers a page's
candidates with a few queries and writes the page in bulk. The writes owed to Hint (filled-in
fields, our integration fields) are kept on each row (`push_body`) and sent in a second pass;
a resumed run sends only those still owed.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from handshake.address_shape import practice_address_shape, practice_address_shape_learn
from handshake.hint_access import PracticeApi
from hintpartner.hint import errors
from hintpartner.hint.paths import PAGE_SIZE, PATIENT_ID
from hintpartner.hint.policy import error_sentence
from sync import fieldmap
from sync.batch_progress import (
    ABORT_CHECK_SECONDS,
    WRITES_OWED,
    WRITES_SENT,
    AbortWatch,
    BatchStopped,
    Outcome,
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
from sync.pipeline import Pipeline

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


def _phase_set(batch: Batch, phase: str) -> None:
    batch.phase = phase
    batch.save(update_fields=["phase", "updated_at"])


def pages_apply(batch: Batch, hint: PracticeApi) -> None:
    """Page by page from the checkpoint; the next page is read (a list call, in a thread) while
    this one is written here, so Hint's latency and our database work overlap. An abort is
    looked for while a page is awaited and between the rows of a page (the page then rolls
    back whole)."""
    create = bool(options_for(batch.practice).create_contacts_when_batch_unmatched)
    offset = batch.checkpoint
    watch = AbortWatch(batch)
    _phase_set(batch, Batch.Phase.READING)
    watch.check()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patients-page")
    upcoming = _page_read(pool, hint, offset)
    try:
        while True:
            items, total = _page_awaited(upcoming, watch)
            full = len(items) >= PAGE_SIZE
            if full:
                upcoming = _page_read(pool, hint, offset + len(items))
            with transaction.atomic():
                page_apply(batch, items, first_position=offset + 1, create=create, watch=watch)
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
        # Stopping early (abort, error): a page read still under way is not waited for.
        upcoming.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def _page_awaited(upcoming: Future, watch: AbortWatch) -> tuple[list[dict[str, Any]], int | None]:
    """The page read in the thread, looking for an abort while Hint takes its time."""
    while not wait([upcoming], timeout=ABORT_CHECK_SECONDS).done:
        watch.check()
    try:
        return upcoming.result()
    except errors.HintError as exc:
        stop_if_token_refused(exc)
        raise BatchStopped(
            f"Reading Hint's patients failed: {error_sentence(exc)} Resume the batch."
        ) from exc


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
    batch: Batch,
    items: list[dict[str, Any]],
    *,
    first_position: int,
    create: bool,
    watch: AbortWatch | None = None,
) -> None:
    """Decide and write one page of patients, with a few queries for the whole page (and an
    abort check at most every second)."""
    practice = batch.practice
    patients = [p for p in items if isinstance(p, dict) and p.get(PATIENT_ID)]
    # One patient tells the page's address shape; street lines are written under its names.
    practice_address_shape_learn(practice=practice, patient=patients[0] if patients else None)
    shape = practice_address_shape(practice)
    linked, by_key = _page_contacts(practice, patients)
    rows: list[BatchRow] = []
    new_contacts: list[tuple[Contact, BatchRow]] = []
    taken: set[int] = set()
    for position, data in enumerate(items, start=first_position):
        if watch is not None:
            watch.tick()
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
                row.push_body = link_body(
                    contact, decision.patient_updates, data, address_shape=shape
                )
    if new_contacts:
        Contact.objects.bulk_create([c for c, _ in new_contacts], batch_size=500)
        for contact, row in new_contacts:
            row.contact = contact
            row.push_body = link_body(contact, {}, None, address_shape=shape)
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
    """Send each row's owed write to Hint (one PATCH per linked patient), one at a time (one
    detail call in batch work): this thread records each answer while the next PATCH is in
    flight. An abort is looked for before each PATCH (a query at most every second), so after
    it is seen only the PATCH already in flight is sent."""
    batch_recount(batch)  # once: a resumed run may find writes sent before the counts were saved
    batch.phase = Batch.Phase.WRITING
    batch.save(update_fields=["phase", "counts", "processed", "updated_at"])
    watch = AbortWatch(batch)
    sent = Counter[str]()

    def landed(row: BatchRow, answer: Future) -> None:
        sent["new"] += _owed_recorded(row, answer)

    pipe: Pipeline[BatchRow, BatchRow] = Pipeline(
        ahead=1,
        read=lambda row: None,
        done=landed,
        name="write-back",
        quiet_on_stop=(BatchStopped,),  # a refused token, again for the write in flight
    )
    try:
        with pipe:
            for row, _nothing in pipe.rows(_owed_rows(batch)):
                if watch.tick():
                    _writes_count(batch, sent)
                pipe.send(
                    row,
                    partial(hint.patient_update, patient_id=row.patient_id, fields=row.push_body),
                )
    finally:
        _writes_count(batch, sent)


def _owed_rows(batch: Batch) -> Iterator[BatchRow]:
    """The rows still owing a write, in order, 200 at a time (keyset: rows are saved meanwhile)."""
    owed = BatchRow.objects.filter(batch=batch, push_body__isnull=False).order_by("position")
    last = 0
    while chunk := list(owed.filter(position__gt=last)[:200]):
        yield from chunk
        last = chunk[-1].position


def _writes_count(batch: Batch, sent: Counter[str]) -> None:
    """Move the writes Hint took since the last save from owed to sent in the batch's counts."""
    if not sent["new"]:
        return
    counts = Counter(batch.counts or {})
    counts[WRITES_SENT] += sent["new"]
    counts[WRITES_OWED] = max(0, counts[WRITES_OWED] - sent["new"])
    sent["new"] = 0
    batch.counts = {k: v for k, v in counts.items() if v}
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
    row.written_at = timezone.now()
    row.save(update_fields=["push_body", "written_at", "updated_at"])
    return 1
