"""Batch pages (admins): start, watch progress, abort, resume, results, CSV download."""

import csv
import io

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.urls import redirect_with_session
from hintpartner.csv_safe import cell_safe
from sync import batch_control
from sync.csv_input import CsvError, csv_check_ids, csv_parse
from sync.models import Batch, BatchRow

ROWS_SHOWN = 200


def _batches(request: HintRequest) -> QuerySet[Batch]:
    return Batch.objects.for_practice(request.hint.practice)


def _list_context(request: HintRequest, **extra: object) -> dict:
    recent = list(_batches(request).order_by("-created_at")[:10])
    active = next((b for b in recent if b.is_active), None)
    return {"batches": recent, "active": active, **extra}


@require_GET
@hint_session(permission="view_settings")
def batch_list(request: HintRequest) -> HttpResponse:
    return render(request, "sync/batch_list.html", _list_context(request))


@require_POST
@hint_session(permission="administer")
def batch_start_patients(request: HintRequest) -> HttpResponse:
    """Start "all Hint patients -> contacts"."""
    try:
        batch = batch_control.batch_start_patients(
            practice=request.hint.practice, actor=Actor.from_hint(request.hint)
        )
    except batch_control.BatchError as exc:
        context = _list_context(request, error=str(exc))
        return render(request, "sync/batch_list.html", context, status=409)
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


@require_POST
@hint_session(permission="administer")
def batch_start_csv(request: HintRequest) -> HttpResponse:
    """Upload a CSV of contact ids and start "contacts -> Hint patients"."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise CsvError("Choose a CSV file to upload.")
        # Read as a stream from the upload (a temporary file past Django's in-memory size).
        parsed = csv_parse(upload.file, name=upload.name or "")
        csv_check_ids(practice=request.hint.practice, parsed=parsed)
        batch = batch_control.batch_start_csv(
            practice=request.hint.practice,
            actor=Actor.from_hint(request.hint),
            contact_ids=parsed.contact_ids,
            source_name=upload.name or "",
            ignored_lines=parsed.ignored_lines,
        )
    except (CsvError, batch_control.BatchError) as exc:
        status = 409 if isinstance(exc, batch_control.BatchError) else 400
        context = _list_context(request, error=str(exc))
        return render(request, "sync/batch_list.html", context, status=status)
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


def _rows(request: HintRequest, batch: Batch) -> tuple[QuerySet[BatchRow], str]:
    rows = BatchRow.objects.for_practice(request.hint.practice).filter(batch=batch)
    outcome = request.GET.get("outcome", "")
    if outcome in BatchRow.Outcome.values:
        rows = rows.filter(outcome=outcome)
    return rows.order_by("position"), outcome if outcome in BatchRow.Outcome.values else ""


@require_GET
@hint_session(permission="view_settings")
def batch_detail(request: HintRequest, pk: int) -> HttpResponse:
    """The results page: status, progress, counts per outcome, rows (filterable)."""
    batch = get_object_or_404(_batches(request), pk=pk)
    rows, outcome = _rows(request, batch)
    context = {
        "batch": batch,
        "counts": batch_control.outcome_counts(batch),
        "rows": list(rows[:ROWS_SHOWN]),
        "row_total": rows.count(),
        "rows_shown": ROWS_SHOWN,
        "outcome": outcome,
        "outcomes": BatchRow.Outcome.choices,
        "stalled": batch_control.batch_is_stalled(batch),
    }
    return render(request, "sync/batch_detail.html", context)


@require_GET
@hint_session(permission="view_settings")
def batch_progress(request: HintRequest, pk: int) -> HttpResponse:
    """The progress partial htmx polls while the batch runs."""
    batch = get_object_or_404(_batches(request), pk=pk)
    context = {
        "batch": batch,
        "counts": batch_control.outcome_counts(batch),
        "stalled": batch_control.batch_is_stalled(batch),
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
    batch = get_object_or_404(_batches(request), pk=pk)
    try:
        batch_control.batch_resume(batch=batch, actor=Actor.from_hint(request.hint))
    except batch_control.BatchError as exc:
        context = {"batch": batch, "error": str(exc), "counts": batch_control.outcome_counts(batch)}
        return render(request, "sync/batch_detail.html", context, status=409)
    return redirect_with_session(request, "sync:batch-detail", batch.pk)


@require_GET
@hint_session(permission="view_settings")
def batch_rows_csv(request: HintRequest, pk: int) -> HttpResponse:
    """Download the rows (filtered like the page) as CSV."""
    batch = get_object_or_404(_batches(request), pk=pk)
    rows, outcome = _rows(request, batch)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["position", "outcome", "contact_id", "hint_patient_id", "name", "message"])
    for row in rows.iterator(chunk_size=1000):
        writer.writerow(
            [
                row.position,
                row.outcome,
                row.contact_id or row.contact_ref,
                row.patient_id,
                cell_safe(row.name),
                cell_safe(row.message),
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
    response["Content-Disposition"] = f'attachment; filename="{batch.sync_id}.csv"'
    return response
