"""Batch: all Hint patients -> contacts (patient wins; exact single match links, none creates).

Works a page of Hint's list at a time; a page's rows, contacts and the checkpoint (the list
offset) commit together, so a page is done entirely or not at all. What each patient does is
`sync.linking.patient_link_decide`, the rule webhooks use too; `page_decide` gathers a page's
candidates with a few queries and asks it for each patient. The run writes the page in bulk
(`page_apply`); a plan keeps the decisions as rows and writes nothing (`page_plan`); an applied
plan follows those rows (`page_follow`, see `sync.plans`). The writes owed to Hint (filled-in
fields, our integration fields) are kept on each row (`push_body`) and sent in a second pass;
a resumed run sends only those still owed.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from handshake.address_shape import practice_address_shape, practice_address_shape_learn
from handshake.hint_access import PracticeApi
from hintpartner.hint import decode, errors
from hintpartner.hint.paths import PAGE_SIZE, PATIENT_FIELDS, PATIENT_ID
from hintpartner.hint.policy import error_sentence
from sync import fieldmap, plans
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
from sync.merge import Situation, field_changes
from sync.models import Batch, BatchRow, Contact, Patient
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
# The decisions that change a side (their field changes are shown in a plan).
_CHANGING = (Link.LINKED, Link.CREATED, Link.UPDATED)


def batch_patients_run(batch: Batch, hint: PracticeApi) -> None:
    """Read and apply every page from the checkpoint, then send the writes owed to Hint; a plan
    only decides (nothing written), and an applied plan follows its rows."""
    pages_apply(batch, hint)
    if batch.is_planning:
        return
    if batch.is_plan:
        _rows_gone(batch)
    send_owed(batch, hint)


def _phase_set(batch: Batch, phase: str) -> None:
    batch.phase = phase
    batch.save(update_fields=["phase", "updated_at"])


def pages_apply(batch: Batch, hint: PracticeApi) -> None:
    """Page by page from the checkpoint; the next page is read (a list call, in a thread) while
    this one is written here, so Hint's latency and our database work overlap. An abort is
    looked for while a page is awaited and between the rows of a page (the page then rolls
    back whole)."""
    create = batch.plan_create if batch.is_plan else _create_option(batch)
    # Contacts a plan links on earlier pages are no candidates on later ones (a run has them
    # linked in the database by then); rebuilt from the rows when a plan resumes.
    taken = _plan_taken(batch) if batch.is_planning else set()
    offset = batch.checkpoint
    watch = AbortWatch(batch, hint)
    _phase_set(batch, Batch.Phase.PLANNING if batch.is_planning else Batch.Phase.READING)
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
                if batch.is_planning:
                    page_plan(batch, items, first_position=offset + 1, taken=taken, watch=watch)
                elif batch.is_plan:
                    page_follow(batch, items, taken=taken, watch=watch)
                else:
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


def _create_option(batch: Batch) -> bool:
    return bool(options_for(batch.practice).create_contacts_when_batch_unmatched)


def _plan_taken(batch: Batch) -> set[int]:
    rows = BatchRow.objects.filter(batch=batch, outcome=Outcome.LINKED, contact__isnull=False)
    return set(rows.values_list("contact_id", flat=True))


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
    practice: Any, patients: list[dict[str, Any]], *, lock: bool
) -> tuple[dict[str, Contact], dict[tuple, list[Contact]]]:
    """The page's linked contacts by patient id, and its unlinked candidates by demographic key
    (two queries for the whole page). With `lock` (a page that writes, inside its transaction)
    the rows stay locked until the page commits: an edit saved meanwhile waits, and is then
    neither overwritten by the page's save nor decided without (its fields owed to Hint)."""
    ids = [str(p[PATIENT_ID]) for p in patients]
    contacts = Contact.objects.for_practice(practice)
    if lock:
        contacts = contacts.select_for_update().order_by("pk")
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


def _fresher_known(practice: Any, patients: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The page's patients of which the mirror holds a newer state (by Hint's `updated_at`),
    by id: one query for the page, read after its contacts are locked.

    A page is read ahead, so one of our own writes (an edit sent meanwhile, whose answer is
    mirrored, `sync.contact_writes`) can be newer than the page; deciding from the page would
    put Hint's older values back on the contact, and Hint sends no webhook for our own write."""
    ids = [str(p[PATIENT_ID]) for p in patients]
    known = (
        Patient.objects.for_practice(practice)
        .visible()
        .filter(hint_id__in=ids, hint_updated_at__isnull=False)
        .values_list("hint_id", "hint_updated_at", "data")
    )
    newer = {}
    by_id = {str(p[PATIENT_ID]): p for p in patients}
    for hint_id, updated_at, data in known:
        page_time = decode.parse_time(by_id[hint_id].get(PATIENT_FIELDS["updated_at"]))
        if page_time is not None and updated_at > page_time and isinstance(data, dict):
            newer[hint_id] = data
    return newer


@dataclass
class Step:
    """One patient of a page and what it does: the one decision a run, a plan and an applied
    plan share. `decision` is None when Hint sent no usable patient."""

    data: Any
    patient_id: str = ""
    name: str = ""
    decision: Decision | None = None
    fingerprint: str = ""
    theirs: fieldmap.Values = field(default_factory=dict)  # the patient's canonical values


def page_decide(
    practice: Any,
    items: list[Any],
    *,
    create: bool,
    taken: set[int],
    watch: AbortWatch | None = None,
    fingerprints: bool = True,
    lock: bool = True,
) -> list[Step]:
    """Decide every patient of a page (`patient_link_decide`), with a few queries for the whole
    page; writes nothing. `taken` holds the contacts linked earlier in the run (updated here);
    `fingerprints` (for plans) notes what each decision read; `lock` keeps the page's contacts
    locked for the caller's transaction (a plan, which writes none of them, does without)."""
    patients = [p for p in items if isinstance(p, dict) and p.get(PATIENT_ID)]
    linked, by_key = _page_contacts(practice, patients, lock=lock)
    fresher = _fresher_known(practice, patients)
    steps: list[Step] = []
    for data in items:
        if watch is not None:
            watch.tick()
        if not isinstance(data, dict) or not data.get(PATIENT_ID):
            steps.append(Step(data))
            continue
        pid = str(data[PATIENT_ID])
        data = fresher.get(pid, data)
        current = linked.get(pid)
        free = [c for c in by_key.get(patient_key(data), []) if c.pk not in taken]
        theirs = fieldmap.patient_values(data)
        decision = patient_link_decide(
            patient=data,
            linked=current,
            candidates=free,
            situation=Situation.BATCH_PATIENTS,
            create=create,
            theirs=theirs,
        )
        if decision.outcome is Link.LINKED and decision.contact is not None:
            taken.add(decision.contact.pk)
            linked[pid] = decision.contact
        name = " ".join(str(data.get(k) or "") for k in ("first_name", "last_name")).strip()
        seen = _fingerprint(data, theirs, current, free) if fingerprints else ""
        steps.append(Step(data, pid, name, decision, seen, theirs))
    return steps


def _fingerprint(
    data: dict[str, Any], theirs: fieldmap.Values, linked: Contact | None, free: list[Contact]
) -> str:
    """What a patient's decision read: the patient (Hint's updated_at and values), its linked
    contact and its free candidates (ids and when they last changed)."""
    return plans.fingerprint(
        str(data.get(PATIENT_FIELDS["updated_at"]) or ""),
        theirs,
        [linked.pk, plans.stamp(linked.updated_at), linked.hint_owed_fields] if linked else None,
        sorted((c.pk, plans.stamp(c.updated_at)) for c in free),
    )


def _row_fill(row: BatchRow, step: Step) -> None:
    """The row's outcome, contact and words from its step."""
    decision = step.decision
    if decision is None:
        row.outcome, row.message = Outcome.ERROR, "Hint sent a patient without an id."
        return
    row.patient_id, row.name = step.patient_id, step.name[:300]
    row.outcome, row.contact = _ROW_OUTCOME[decision.outcome], decision.contact
    row.message = ""
    if decision.outcome is Link.MULTIPLE:
        row.message = f"{decision.matches} contacts match this patient's name and birth date."


def step_changes(step: Step) -> list[dict]:
    """The fields a step changes on either side (`merge.field_changes`, as a plan shows them)."""
    decision = step.decision
    if decision is None or decision.outcome not in _CHANGING:
        return []
    theirs = step.theirs
    ours = fieldmap.contact_values(decision.contact) if decision.contact is not None else {}
    situation = (
        Situation.PATIENT_UPDATED if decision.outcome is Link.UPDATED else Situation.BATCH_PATIENTS
    )
    changes = field_changes(situation=situation, contact=ours, patient=theirs)
    return plans.changes_saved(changes, only={*decision.contact_updates, *decision.patient_updates})


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
    steps = page_decide(
        batch.practice, items, create=create, taken=set(), watch=watch, fingerprints=False
    )
    rows = [
        BatchRow(practice=batch.practice, batch=batch, position=position)
        for position in range(first_position, first_position + len(steps))
    ]
    for row, step in zip(rows, steps, strict=True):
        _row_fill(row, step)
    _steps_carry_out(batch, list(zip(steps, rows, strict=True)))
    # A resumed page may already have rows from a killed run that did not commit: none exist,
    # because the page commits as a whole; ignore_conflicts only guards a manual rerun.
    BatchRow.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    _page_count(batch, rows)


def page_plan(
    batch: Batch,
    items: list[dict[str, Any]],
    *,
    first_position: int,
    taken: set[int],
    watch: AbortWatch | None = None,
) -> None:
    """Decide one page of a plan and keep it as rows (outcome, changes, fingerprint); nothing
    else is written."""
    steps = page_decide(
        batch.practice, items, create=batch.plan_create, taken=taken, watch=watch, lock=False
    )
    rows = []
    for position, step in enumerate(steps, start=first_position):
        row = BatchRow(practice=batch.practice, batch=batch, position=position)
        _row_fill(row, step)
        row.planned_outcome = row.outcome
        row.changes, row.fingerprint = step_changes(step), step.fingerprint
        rows.append(row)
    BatchRow.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    _page_count(batch, rows)


def page_follow(
    batch: Batch, items: list[dict[str, Any]], *, taken: set[int], watch: AbortWatch | None = None
) -> None:
    """Apply a plan to one page: each patient's planned row gets the same decision when what it
    read is unchanged, else the new decision, flagged. A patient the plan did not see is left
    alone (previewing again includes it)."""
    steps = page_decide(batch.practice, items, create=batch.plan_create, taken=taken, watch=watch)
    ids = [s.patient_id for s in steps if s.patient_id]
    pending = BatchRow.objects.filter(batch=batch, outcome=Outcome.PENDING, patient_id__in=ids)
    planned = {row.patient_id: row for row in pending}
    followed: list[tuple[Step, BatchRow]] = []
    unplanned: list[BatchRow] = []
    for step in steps:
        row = planned.pop(step.patient_id, None) if step.patient_id else None
        if row is None:
            if step.patient_id:
                unplanned.append(_row_unplanned(batch, step))
            continue
        _row_fill(row, step)
        if step.fingerprint != row.fingerprint or row.outcome != row.planned_outcome:
            row.redecided = True
            row.changes = step_changes(step)
            row.message = (
                plans.redecided_note(row.planned_outcome, row.outcome) + " " + row.message
            )[:500]
        row.updated_at = timezone.now()  # bulk_update leaves auto_now alone
        followed.append((step, row))
    _steps_carry_out(batch, followed)
    rows = [row for _step, row in followed]
    BatchRow.objects.bulk_update(rows, _FOLLOWED_FIELDS, batch_size=500)
    if unplanned:
        last = BatchRow.objects.filter(batch=batch).aggregate(n=Max("position"))["n"] or 0
        for position, row in enumerate(unplanned, start=last + 1):
            row.position = position
        BatchRow.objects.bulk_create(unplanned, batch_size=500)
    _page_count(batch, rows + unplanned)


_FOLLOWED_FIELDS = [
    "outcome",
    "message",
    "contact",
    "name",
    "push_body",
    "redecided",
    "changes",
    "updated_at",
]


def _row_unplanned(batch: Batch, step: Step) -> BatchRow:
    return BatchRow(
        practice=batch.practice,
        batch=batch,
        position=0,
        patient_id=step.patient_id,
        name=step.name[:300],
        outcome=Outcome.NOT_PLANNED,
        message="New in Hint since the plan: left alone. Preview again to include it.",
    )


def _rows_gone(batch: Batch) -> None:
    """Planned rows whose patient Hint no longer lists: nothing was done for them."""
    gone = BatchRow.objects.filter(batch=batch, outcome=Outcome.PENDING)
    if gone.update(
        outcome=Outcome.ERROR,
        redecided=True,
        message="Hint no longer lists this patient; nothing was done.",
        updated_at=timezone.now(),
    ):
        batch_recount(batch)
        batch.save(update_fields=["counts", "processed", "updated_at"])


def _steps_carry_out(batch: Batch, followed: list[tuple[Step, BatchRow]]) -> None:
    """Write what each step decided: contacts updated, linked or created (in bulk), and each
    new link's write owed to Hint kept on its row (`push_body`)."""
    practice = batch.practice
    # One patient tells the page's address shape; street lines are written under its names.
    first = next((step.data for step, _row in followed if step.decision is not None), None)
    practice_address_shape_learn(practice=practice, patient=first)
    shape = practice_address_shape(practice)
    new_contacts: list[tuple[Contact, BatchRow]] = []
    for step, row in followed:
        decision = step.decision
        if decision is None:
            continue
        if decision.outcome is Link.CREATED:
            new_contacts.append((_contact_new(batch, step.patient_id, decision), row))
        elif decision.outcome in (Link.UPDATED, Link.LINKED):
            contact = _contact_take(batch, step.patient_id, decision)
            if decision.makes_link:
                row.push_body = link_body(
                    contact, decision.patient_updates, step.data, address_shape=shape
                )
    if new_contacts:
        Contact.objects.bulk_create([c for c, _ in new_contacts], batch_size=500)
        for contact, row in new_contacts:
            row.contact = contact
            row.push_body = link_body(contact, {}, None, address_shape=shape)


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
    watch = AbortWatch(batch, hint)
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
