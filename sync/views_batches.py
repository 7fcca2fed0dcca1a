"""Batch pages (admins): preview (a plan), apply, start, watch progress, abort, resume, results,
CSV download."""

import csv
import io
from collections.abc import Callable

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.urls import redirect_with_session
from hintpartner.csv_safe import cell_safe
from sync import batch_control, plans
from sync.csv_input import CsvError, csv_parse, csv_rows
from sync.models import Batch, BatchRow, SyncOptions

ROWS_SHOWN = 200


def _batches(request: HintRequest) -> QuerySet[Batch]:
    return Batch.objects.for_practice(request.hint.practice)


def _create_option(request: HintRequest) -> bool:
    """The "create a contact when no match" option, read without creating the options row."""
    options = SyncOptions.objects.for_practice(request.hint.practice).first()
    return bool(options and options.create_contacts_when_batch_unmatched)


def _list_context(request: HintRequest, **extra: object) -> dict:
    recent = list(_batches(request).order_by("-created_at")[:10])
    active = next((b for b in recent if b.is_active), None)
    return {"batches": recent, "active": active, "create_on": _create_option(request), **extra}


@require_GET
@hint_session(permission="view_settings")
def batch_list(request: HintRequest) -> HttpResponse:
    return render(request, "sync/batch_list.html", _list_context(request))


def _patients_start(request: HintRequest, *, plan: bool) -> HttpResponse:
    try:
        batch = batch_control.batch_start_patients(
            practice=request.hint.practice, actor=Actor.from_hint(request.hint), plan=plan
        )
    except batch_control.BatchError as exc:
        context = _list_context(request, error=str(exc))
        return render(request, "sync/batch_list.html", context, status=409)
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


@require_POST
@hint_session(permission="administer")
def batch_start_patients(request: HintRequest) -> HttpResponse:
    """Start "all Hint patients -> contacts"."""
    return _patients_start(request, plan=False)


@require_POST
@hint_session(permission="administer")
def batch_plan_patients(request: HintRequest) -> HttpResponse:
    """Preview "all Hint patients -> contacts": a plan, nothing written."""
    return _patients_start(request, plan=True)


def _csv_start(request: HintRequest, *, plan: bool) -> HttpResponse:
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise CsvError("Choose a CSV file to upload.")
        # Read as a stream from the upload (a temporary file past Django's in-memory size).
        parsed = csv_parse(upload.file, name=upload.name or "")
        batch = batch_control.batch_start_csv(
            practice=request.hint.practice,
            actor=Actor.from_hint(request.hint),
            rows=csv_rows(practice=request.hint.practice, parsed=parsed),
            source_name=upload.name or "",
            ignored_lines=parsed.ignored_lines,
            plan=plan,
        )
    except (CsvError, batch_control.BatchError) as exc:
        status = 409 if isinstance(exc, batch_control.BatchError) else 400
        context = _list_context(request, error=str(exc))
        return render(request, "sync/batch_list.html", context, status=status)
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


@require_POST
@hint_session(permission="administer")
def batch_start_csv(request: HintRequest) -> HttpResponse:
    """Upload a CSV of contact ids and start "contacts -> Hint patients"."""
    return _csv_start(request, plan=False)


@require_POST
@hint_session(permission="administer")
def batch_plan_csv(request: HintRequest) -> HttpResponse:
    """Upload a CSV of contact ids and preview "contacts -> Hint patients": a plan."""
    return _csv_start(request, plan=True)


@require_POST
@hint_session(permission="administer")
def batch_apply(request: HintRequest, pk: int) -> HttpResponse:
    """Apply a plan: carry out exactly the rows it planned."""
    return _batch_act(request, pk, batch_control.plan_apply)


def _batch_act(request: HintRequest, pk: int, act: Callable[..., Batch]) -> HttpResponse:
    """Resume or apply: the batch's page again, or with the reason it cannot (409)."""
    batch = get_object_or_404(_batches(request), pk=pk)
    try:
        act(batch=batch, actor=Actor.from_hint(request.hint))
    except batch_control.BatchError as exc:
        return render(
            request, "sync/batch_detail.html", _detail_context(request, batch, str(exc)), status=409
        )
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


# The rows filter: an outcome, or the rows an applied plan decided again.
REDECIDED = "redecided"


def _rows(request: HintRequest, batch: Batch) -> tuple[QuerySet[BatchRow], str]:
    rows = BatchRow.objects.for_practice(request.hint.practice).filter(batch=batch)
    outcome = request.GET.get("outcome", "")
    if outcome == REDECIDED:
        return rows.filter(redecided=True).order_by("position"), outcome
    if outcome in BatchRow.Outcome.values:
        rows = rows.filter(outcome=outcome)
    return rows.order_by("position"), outcome if outcome in BatchRow.Outcome.values else ""


def _detail_context(request: HintRequest, batch: Batch, error: str = "") -> dict:
    rows, outcome = _rows(request, batch)
    shown = list(rows[:ROWS_SHOWN])
    labels = plans.PLANNED_LABELS if batch.is_planning else dict(BatchRow.Outcome.choices)
    for row in shown:
        row.label = labels.get(row.outcome, row.get_outcome_display())
        row.changes_line = plans.changes_text(row.changes)
    outcomes = [(v, labels.get(v, label)) for v, label in BatchRow.Outcome.choices]
    if batch.is_plan and not batch.is_planning:
        outcomes.append((REDECIDED, "changed since the plan, decided again"))
    return {
        "batch": batch,
        "error": error,
        "counts": batch_control.outcome_counts(batch),
        "rows": shown,
        "row_total": rows.count(),
        "rows_shown": ROWS_SHOWN,
        "outcome": outcome,
        "outcomes": outcomes,
        "stalled": batch_control.batch_is_stalled(batch),
        "plan": _plan_context(request, batch) if batch.is_plan else None,
    }


def _plan_context(request: HintRequest, batch: Batch) -> dict:
    """What the plan page says besides the rows: expiry, what the option would change, and
    how the result compares with the plan."""
    counts = batch.plan_counts if batch.applied_at else batch.counts
    no_match = int((counts or {}).get(BatchRow.Outcome.NO_MATCH, 0))
    created = int((counts or {}).get(BatchRow.Outcome.CREATED, 0))
    labels = plans.PLANNED_LABELS
    return {
        "expires_at": plans.plan_expires_at(batch),
        "expired": plans.plan_is_expired(batch),
        "is_patients": batch.kind == Batch.Kind.PATIENTS_TO_CONTACTS,
        "no_match": no_match,
        "created": created,
        "create_on_now": _create_option(request),
        "planned_counts": [
            (labels.get(v, label), int(batch.plan_counts.get(v, 0)))
            for v, label in BatchRow.Outcome.choices
            if (batch.plan_counts or {}).get(v)
        ],
        "redecided": BatchRow.objects.filter(batch=batch, redecided=True).count()
        if batch.applied_at
        else 0,
    }


@require_GET
@hint_session(permission="view_settings")
def batch_detail(request: HintRequest, pk: int) -> HttpResponse:
    """The results page (or a plan's page): status, progress, counts per outcome, rows
    (filterable)."""
    batch = get_object_or_404(_batches(request), pk=pk)
    return render(request, "sync/batch_detail.html", _detail_context(request, batch))


@require_GET
@hint_session(permission="view_settings")
def batch_progress(request: HintRequest, pk: int) -> HttpResponse:
    """The progress partial htmx polls while the batch runs."""
    batch = get_object_or_404(_batches(request), pk=pk)
    context = {
        "batch": batch,
        "counts": batch_control.outcome_counts(batch),
        "stalled": batch_control.batch_is_stalled(batch),
        # A plan's card updates with it: "Apply this plan" appears once the plan is ready.
        "plan": _plan_context(request, batch) if batch.is_plan else None,
    }
    response = render(request, "sync/batch_progress.html", context)
    if request.htmx:
        # The rows table reloads on these, so it fills as rows are committed (page by page).
        response["HX-Trigger"] = "batch-progress" if batch.is_active else "batch-finished"
    return response


@require_POST
@hint_session(permission="administer")
def batch_abort(request: HintRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(_batches(request), pk=pk)
    batch_control.batch_abort(batch=batch, actor=Actor.from_hint(request.hint))
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


@require_POST
@hint_session(permission="administer")
def batch_resume(request: HintRequest, pk: int) -> HttpResponse:
    return _batch_act(request, pk, batch_control.batch_resume)


@require_GET
@hint_session(permission="view_settings")
def batch_rows_csv(request: HintRequest, pk: int) -> HttpResponse:
    """Download the rows (filtered like the page) as CSV."""
    batch = get_object_or_404(_batches(request), pk=pk)
    rows, outcome = _rows(request, batch)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            *("position", "outcome", "contact_id", "hint_patient_id", "name", "message"),
            *("planned_outcome", "changed_since_plan", "field_changes"),
        ]
    )
    for row in rows.iterator(chunk_size=1000):
        writer.writerow(
            [
                row.position,
                row.outcome,
                row.contact_id or cell_safe(row.contact_ref),
                cell_safe(row.patient_id),
                cell_safe(row.name),
                cell_safe(row.message),
                row.planned_outcome,
                "yes" if row.redecided else "",
                cell_safe(plans.changes_text(row.changes)),
            ]
        )
    audit_record(
        practice=batch.practice_id,
        actor=Actor.from_hint(request.hint),
        action="batch.exported",
        target_type="batch",
        target_id=batch.sync_id,
        detail=f"rows: {outcome or 'all'}",
    )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"{batch.sync_id}-plan" if batch.is_planning else batch.sync_id
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
