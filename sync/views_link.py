"""A contact's link to Hint, as a person changes it: "Sync to Hint" (search, preview, apply),
"Create new patient" (confirm, create) and "Unlink" (confirm, unlink).

Each change that reaches Hint's chart is shown first (GET, writes nothing) and done by the POST
of that page, which carries the preview's fingerprint (`sync.preview`): if either side changed
in between, the page is shown again with the change marked, and nothing is written.
"""

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from handshake.audit import Actor
from handshake.decorators import HintRequest, hint_session
from handshake.links import url_with_session
from hintpartner.hint import api, errors
from hintpartner.hint.policy import error_sentence
from sync import contacts, fieldmap, preview
from sync.models import Contact, Patient
from sync.patient_search import patients_page

SEARCH_RESULTS = 20
UNCONFIRMED = "Nothing was written yet. Check what will change, then confirm below."


def _contact(request: HintRequest, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.for_practice(request.hint.practice), pk=pk)


def _to_contact(request: HintRequest, contact: Contact, done: str) -> HttpResponseRedirect:
    """303 to the contact's page, which says what was done."""
    url = reverse("sync:contact-detail", args=[contact.pk])
    response = HttpResponseRedirect(url_with_session(url, request.hint.session_key, done=done))
    response.status_code = 303
    return response


# --- search ------------------------------------------------------------------------------------


@require_GET
@hint_session(permission="edit_records")
def contact_sync(request: HintRequest, pk: int) -> HttpResponse:
    """ "Sync to Hint": a live search over Hint patients, pre-filled with the contact's name."""
    contact = _contact(request, pk)
    q = request.GET.get("q", contact.full_name).strip()[:100]
    return render(request, "sync/contacts_sync.html", {"contact": contact, "q": q})


def _hint_search(token: str, q: str) -> list[dict]:
    words = q.split()
    if not words:
        return []
    if len(words) == 1:
        found = api.patients_search(token=token, limit=SEARCH_RESULTS, last_name=words[0])
        return found or api.patients_search(token=token, limit=SEARCH_RESULTS, first_name=words[0])
    return api.patients_search(
        token=token, limit=SEARCH_RESULTS, first_name=words[0], last_name=" ".join(words[1:])
    )


def _with_mirror_matches(request: HintRequest, q: str, found: list[dict]) -> list[dict]:
    """Hint's answers first, then prefix matches from our mirror of Hint's patients.

    Hint's name filters match whole names only, so "Ana Nu" finds nothing there while the user is
    still typing; the mirror (kept by webhooks and backfills) answers prefixes from an index.
    """
    if not q:
        return found
    seen = {str(p.get("id") or "") for p in found if isinstance(p, dict)}
    mirror = Patient.objects.for_practice(request.hint.practice).visible()
    nearest, _count = patients_page(mirror, q, offset=0, size=SEARCH_RESULTS, cap=SEARCH_RESULTS)
    extra = [
        patient.data
        for patient in nearest
        if patient.hint_id not in seen and isinstance(patient.data, dict)
    ]
    return [*found, *extra][:SEARCH_RESULTS]


@require_GET
@hint_session(permission="edit_records")
def contact_sync_search(request: HintRequest, pk: int) -> HttpResponse:
    """The search results partial (htmx, as the user types)."""
    contact = _contact(request, pk)
    q = request.GET.get("q", "").strip()[:100]
    error = ""
    results: list[dict] = []
    try:
        results = _hint_search(request.hint.token, q)
    except errors.HintError as exc:
        error = error_sentence(exc)
    results = _with_mirror_matches(request, q, results)
    patients = [
        {
            "id": str(p.get("id") or ""),
            "values": fieldmap.patient_values(p),
            "linked_here": str(p.get("id") or "") == contact.hint_patient_id,
        }
        for p in results
        if isinstance(p, dict) and p.get("id")
    ]
    context = {"contact": contact, "patients": patients, "q": q, "error": error}
    return render(request, "sync/contacts_sync_results.html", context)


def _back_to_sync(request: HintRequest, contact: Contact, error: str) -> HttpResponse:
    context = {"contact": contact, "q": contact.full_name, "error": error}
    return render(request, "sync/contacts_sync.html", context, status=400)


# --- preview and apply -------------------------------------------------------------------------


def _preview_page(
    request: HintRequest, found: preview.LinkPreview, status: int, *, notice: str = ""
) -> HttpResponse:
    context = {"contact": found.contact, "preview": found, "notice": notice}
    return render(request, "sync/contacts_link_preview.html", context, status=status)


@require_http_methods(["GET", "POST"])
@hint_session(permission="edit_records")
def contact_link(request: HintRequest, pk: int) -> HttpResponse:
    """GET: the preview of syncing with the chosen patient (reads Hint, writes nothing).
    POST: "Sync patient", exactly as previewed; shown again if either side changed since."""
    contact = _contact(request, pk)
    data = request.POST if request.method == "POST" else request.GET
    patient_id = data.get("patient_id", "").strip()[:100]
    if not patient_id:
        return _back_to_sync(request, contact, "Choose a patient from the list first.")
    token = request.hint.token
    seen = data.get("seen", "")[: preview.MAX_SEEN]
    try:
        if request.method == "GET" or not seen:
            found = preview.link_preview(contact=contact, patient_id=patient_id, token=token)
            if request.method == "GET":
                return _preview_page(request, found, 200)
            return _preview_page(request, found, 400, notice=UNCONFIRMED)
        preview.link_apply(
            contact=contact,
            patient_id=patient_id,
            seen=seen,
            actor=Actor.from_hint(request.hint),
            token=token,
        )
    except preview.PreviewChanged as exc:
        return _preview_page(request, exc.preview, 409)  # type: ignore[arg-type]
    except contacts.SyncError as exc:
        return _back_to_sync(request, contact, str(exc))
    return _to_contact(request, contact, "linked")


@require_http_methods(["GET", "POST"])
@hint_session(permission="edit_records")
def contact_create_patient(request: HintRequest, pk: int) -> HttpResponse:
    """GET: what "Create new patient" will create in Hint. POST: create it, as confirmed."""
    contact = _contact(request, pk)
    seen = request.POST.get("seen", "")[: preview.MAX_SEEN]
    if request.method == "GET" or not seen:
        found = preview.create_preview(contact=contact)
        if request.method == "GET":
            return _create_page(request, found, 200)
        return _create_page(request, found, 400, notice=UNCONFIRMED)
    try:
        preview.create_apply(
            contact=contact,
            seen=seen,
            actor=Actor.from_hint(request.hint),
            token=request.hint.token,
        )
    except preview.PreviewChanged as exc:
        return _create_page(request, exc.preview, 409)  # type: ignore[arg-type]
    except contacts.SyncError as exc:
        found = preview.create_preview(contact=contact)
        return _create_page(request, found, 400, error=str(exc))
    return _to_contact(request, contact, "created")


def _create_page(
    request: HintRequest,
    found: preview.CreatePreview,
    status: int,
    *,
    error: str = "",
    notice: str = "",
) -> HttpResponse:
    context = {"contact": found.contact, "preview": found, "error": error, "notice": notice}
    return render(request, "sync/contacts_create_confirm.html", context, status=status)


@require_http_methods(["GET", "POST"])
@hint_session(permission="unlink_contacts")
def contact_unlink(request: HintRequest, pk: int) -> HttpResponse:
    """GET: what unlinking clears on both sides. POST: unlink; both records stay."""
    contact = _contact(request, pk)
    if request.method == "GET":
        context = {"contact": contact, "preview": preview.unlink_preview(contact=contact)}
        return render(request, "sync/contacts_unlink_confirm.html", context)
    hint = request.hint
    done = contacts.contact_unlink(contact=contact, actor=Actor.from_hint(hint), token=hint.token)
    if not done.patient_id:  # it was not linked: nothing was done
        return _to_contact(request, contact, "")
    return _to_contact(
        request, contact, "unlinked" if done.cleared_in_hint else "unlinked-hint-kept"
    )
