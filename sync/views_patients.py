"""The practice's patients (the mirror of Hint): list with live search, detail, backfill."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from handshake.activity import record_history
from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.links import redirect_with_session, url_with_session
from sync import backfill
from sync.models import Patient
from sync.patient_search import MAX_QUERY, patients_page

PAGE_SIZE = 25
COUNT_CAP = 1000
_PK_MARK = 987654321987
LIST_FIELDS = (
    "pk",
    "first_name",
    "last_name",
    "dob",
    "email",
    "membership_status",
    "inactive",
    "practitioner_name",
)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 100_000))
    except ValueError:
        return 1


def _results_context(request: HintRequest) -> dict[str, object]:
    practice = request.hint.practice
    # Only shown: the first pull is queued when the practice connects, never by a page view.
    run = backfill.backfill_latest(practice=practice)
    query = request.GET.get("q", "")[:MAX_QUERY]
    patients = Patient.objects.for_practice(practice).visible().only(*LIST_FIELDS)
    number = _page_number(request.GET.get("page"))
    offset = (number - 1) * PAGE_SIZE
    # One extra row says whether there is a next page; the total is counted up to a cap.
    rows, total = patients_page(patients, query, offset=offset, size=PAGE_SIZE + 1, cap=COUNT_CAP)
    key = request.hint.session_key

    def page_url(page: int) -> str:
        return url_with_session(request.path, key, q=query, page=page)

    # One reverse() for the page, not one per row: rendering links was half of a search's CPU.
    detail = url_with_session(reverse("sync:patient", args=[_PK_MARK]), key)
    patients = rows[:PAGE_SIZE]
    for patient in patients:
        patient.detail_url = detail.replace(str(_PK_MARK), str(patient.pk), 1)
    return {
        "patients": patients,
        "number": number,
        "total": min(total, COUNT_CAP),
        "more_than_total": total > COUNT_CAP,
        "q": query,
        "previous_url": page_url(number - 1) if number > 1 else "",
        "next_url": page_url(number + 1) if len(rows) > PAGE_SIZE else "",
        "backfill": run,
    }


@require_GET
@hint_session(permission="view_records")
def patient_list(request: HintRequest) -> HttpResponse:
    """All of the practice's patients, paginated; htmx requests get only the results."""
    context = _results_context(request)
    if request.htmx:
        return render(request, "sync/patients_results.html", context)
    return render(request, "sync/patients.html", context)


@require_GET
@hint_session(permission="view_records")
def patients_panel(request: HintRequest) -> HttpResponse:
    """The core_page panel: search box and the first page of patients."""
    return render(request, "sync/patients_panel.html", _results_context(request))


@require_GET
@hint_session(permission="view_records")
def patient_detail(request: HintRequest, pk: int) -> HttpResponse:
    """One patient as Hint last described it, with a link to the chart in Hint."""
    patients = Patient.objects.for_practice(request.hint.practice).visible()
    patient = get_object_or_404(patients, pk=pk)
    audit_record(
        practice=patient.practice_id,
        actor=Actor.from_hint(request.hint),
        action="patient.viewed",
        target_type="patient",
        target_id=patient.hint_id,  # the trail's key for a patient, as for patient.created
        patient=patient.hint_id,
    )
    history = record_history(hint=request.hint, patient=patient.hint_id)
    return render(request, "sync/patients_detail.html", {"patient": patient, "history": history})


@require_GET
@hint_session(permission="view_settings")
def backfill_panel(request: HintRequest) -> HttpResponse:
    """Settings panel: the last pull from Hint and its progress (polls while running)."""
    run = backfill.backfill_latest(practice=request.hint.practice)
    return render(request, "sync/patients_backfill_panel.html", {"run": run})


@require_POST
@hint_session(permission="administer")
def backfill_start(request: HintRequest) -> HttpResponse:
    """The "Refresh from Hint" button: queue a pull (or show the one under way)."""
    practice = request.hint.practice
    if not practice.is_connected:
        context = {
            "run": backfill.backfill_latest(practice=practice),
            "error": "The app is not connected to Hint for this practice, so nothing can be "
            "pulled. Finish or repeat the installation, then try again.",
        }
        # 409 for a plain form post; htmx swaps only 2xx, so the panel shows the message.
        status = 200 if request.htmx else 409
        return render(request, "sync/patients_backfill_panel.html", context, status=status)
    run = backfill.backfill_start(practice=practice, actor=Actor.from_hint(request.hint))
    if request.htmx:
        return render(request, "sync/patients_backfill_panel.html", {"run": run})
    return redirect_with_session(request, "handshake:settings")
