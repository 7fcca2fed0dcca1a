"""Pages and htmx partials for clinical notes, inside Hint's iframe."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from handshake.activity import record_history
from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.links import redirect_with_session
from handshake.roles import roles_granting
from hintpartner.hint import api, errors
from interactions import push, services
from interactions.models import Note
from sync.models import Patient

LIST_LIMIT = 50


def _note_or_404(request: HintRequest, note_id: int) -> Note:
    return get_object_or_404(
        Note.objects.for_practice(request.hint.practice).select_related("patient"), pk=note_id
    )


def _patient_of_practice(request: HintRequest, patient_id: str) -> bool:
    """A patient the session may name: one in this practice's mirror of Hint, one this practice
    already has notes for, or the chart's patient if Hint does not deny it. Anything else
    (another practice's patient) would store a note Hint later refuses."""
    hint = request.hint
    notes = Note.objects.for_practice(hint.practice).for_patient(patient_id)
    if (
        Patient.objects.for_practice(hint.practice).filter(hint_id=patient_id).exists()
        or notes.exists()
    ):
        return True
    if patient_id != hint.patient_id:
        return False
    # The chart's patient may come from the SDK's unsigned ?patient_id and be missing from the
    # mirror (a patient created a moment ago): Hint, asked with this session's token, which it
    # scopes to the practice, says whether the patient is the practice's.
    try:
        api.patient_get(token=hint.token, patient_id=patient_id)
    except errors.HintNotFound:
        return False
    except errors.HintError:
        # Hint cannot say now: the chart's word stands. The note is kept here either way, and a
        # push Hint refuses is shown on the note.
        return True
    return True


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw or "")
    except ValueError:
        return None


def _note_context(request: HintRequest, note: Note) -> dict[str, object]:
    hint = request.hint
    patient_name = note.patient_label
    if not note.patient_id and hint.patient_id == note.patient_hint_id and hint.patient_name:
        patient_name = hint.patient_name  # no local mirror yet: the name the handshake gave
    return {
        "note": note,
        "patient_name": patient_name,
        "can_write": hint.has("write_notes"),
        "can_sign": hint.has("sign_notes"),
        "sign_roles": roles_granting("sign_notes"),
        "addenda": note.addenda.all() if note.is_signed else [],
    }


def _status(request: HintRequest, note: Note, *, status: int = 200) -> HttpResponse:
    return render(request, "interactions/_status.html", _note_context(request, note), status=status)


def _conflict(request: HintRequest, exc: services.NoteConflict) -> HttpResponse:
    context = {**_note_context(request, exc.note), "conflict": exc}
    if request.htmx:
        response = render(request, "interactions/_conflict.html", context, status=409)
        response["HX-Retarget"] = "#note-conflict"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "interactions/conflict.html", context, status=409)


def _refused(
    request: HintRequest, note: Note, message: str, *, status: int, not_saved: bool = False
) -> HttpResponse:
    """`not_saved`: a refused save, so the editor's status line must say the text is not saved."""
    context = {**_note_context(request, note), "message": message, "not_saved": not_saved}
    if request.htmx:
        response = render(request, "interactions/_refused.html", context, status=status)
        response["HX-Retarget"] = "#note-conflict"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "interactions/refused.html", context, status=status)


# --- pages ------------------------------------------------------------------------------------


@require_GET
@hint_session(permission="view_records")
def note_detail(request: HintRequest, note_id: int) -> HttpResponse:
    """The editor for a draft (with write permission), else the read-only note."""
    note = _note_or_404(request, note_id)
    audit_record(
        practice=note.practice_id,
        actor=Actor.from_hint(request.hint),
        action="note.viewed",
        target_type="note",
        target_id=note.pk,
        patient=note.patient_hint_id,
    )
    context = {
        **_note_context(request, note),
        "history": record_history(hint=request.hint, target=f"note:{note.pk}"),
    }
    if note.is_editable and request.hint.has("write_notes"):
        return render(request, "interactions/editor.html", context)
    return render(request, "interactions/note.html", context)


@require_POST
@hint_session(permission="write_notes")
def note_new(request: HintRequest) -> HttpResponse:
    """Start a draft for the patient named in the form (or the session's patient)."""
    patient_id = (request.POST.get("patient_id") or request.hint.patient_id or "").strip()
    if not patient_id or len(patient_id) > 100:
        return render(
            request,
            "message.html",
            {
                "title": "No patient chosen",
                "lines": ["Open the patient's chart in Hint, then choose New note there."],
            },
            status=400,
        )
    if not _patient_of_practice(request, patient_id):
        raise Http404("No such patient in this practice.")
    note = services.note_create(
        practice=request.hint.practice,
        patient_hint_id=patient_id,
        actor=Actor.from_hint(request.hint),
    )
    return redirect_with_session(request, "interactions:note", note_id=note.pk)


def _save_from_form(
    request: HintRequest, note: Note, *, title: str, body: str
) -> Note | HttpResponse:
    """Save the posted title and body over `base_version`; a page explaining why if refused.

    `title` and `body` are what a missing form field means ("" for the editor, the stored text
    when signing from a page that may not post them).
    """
    base_version = _int_or_none(request.POST.get("base_version"))
    if base_version is None:
        return _refused(
            request, note, "The page is out of date: reload it.", status=400, not_saved=True
        )
    try:
        saved = services.note_save(
            note=note,
            title=request.POST.get("title", title),
            body=request.POST.get("body", body),
            base_version=base_version,
            actor=Actor.from_hint(request.hint),
        )
    except services.NoteConflict as exc:
        return _conflict(request, exc)
    except services.NoteLocked as exc:
        return _refused(request, note, str(exc), status=409, not_saved=True)
    except services.NoteInvalid as exc:
        return _refused(request, note, str(exc), status=400, not_saved=True)
    return saved


@require_POST
@hint_session(permission="write_notes")
def note_save(request: HintRequest, note_id: int) -> HttpResponse:
    """Autosave (htmx) or the plain Save button: refuses to overwrite a newer version."""
    note = _note_or_404(request, note_id)
    saved = _save_from_form(request, note, title="", body="")
    if isinstance(saved, HttpResponse):
        return saved
    if request.htmx:
        return _status(request, saved)
    return redirect_with_session(request, "interactions:note", note_id=saved.pk)


@require_POST
@hint_session(permission="write_notes")
def note_sync(request: HintRequest, note_id: int) -> HttpResponse:
    """Push the note to Hint now, with the session's own token; answers the status line."""
    note = _note_or_404(request, note_id)
    note = push.note_push(note=note, token=request.hint.token, in_session=True)
    if request.htmx:
        return _status(request, note)
    return redirect_with_session(request, "interactions:note", note_id=note.pk)


@require_POST
@hint_session(permission="write_notes")
def note_retry(request: HintRequest, note_id: int) -> HttpResponse:
    """After a permanent error was fixed (reconnected, patient restored): try again."""
    note = services.note_retry(note=_note_or_404(request, note_id))
    note = push.note_push(note=note, token=request.hint.token, in_session=True)
    if request.htmx:
        return _status(request, note)
    return redirect_with_session(request, "interactions:note", note_id=note.pk)


@require_GET
@hint_session(permission="view_records")
def note_status(request: HintRequest, note_id: int) -> HttpResponse:
    """The status line alone, polled while a background retry works."""
    return _status(request, _note_or_404(request, note_id))


@require_POST
@hint_session(permission="sign_notes")
def note_sign_review(request: HintRequest, note_id: int) -> HttpResponse:
    """Save what the editor shows, then open the confirmation page."""
    note = _note_or_404(request, note_id)
    saved = _save_from_form(request, note, title=note.title, body=note.body)
    if isinstance(saved, HttpResponse):
        return saved
    response = redirect_with_session(request, "interactions:note-sign", note_id=saved.pk)
    if request.htmx:
        redirect = HttpResponse("")
        redirect["HX-Redirect"] = response.url
        return redirect
    return response


@require_http_methods(["GET", "POST"])
@hint_session(permission="sign_notes")
def note_sign(request: HintRequest, note_id: int) -> HttpResponse:
    """GET: the confirmation page. POST: sign the version that page showed."""
    note = _note_or_404(request, note_id)
    if request.method == "GET":
        if not note.is_editable:
            return redirect_with_session(request, "interactions:note", note_id=note.pk)
        return render(request, "interactions/sign.html", _note_context(request, note))
    version = _int_or_none(request.POST.get("version"))
    if version is None:
        return _refused(request, note, "The page is out of date: reload it.", status=400)
    try:
        note = services.note_sign(note=note, actor=Actor.from_hint(request.hint), version=version)
    except services.NoteConflict as exc:
        return _conflict(request, exc)
    except services.NoteLocked as exc:
        return _refused(request, note, str(exc), status=409)
    except services.NoteInvalid as exc:
        return _refused(request, note, str(exc), status=400)
    # The note page's status line pushes at once with this session's token (services).
    return redirect_with_session(request, "interactions:note", note_id=note.pk)


@require_POST
@hint_session(permission="sign_notes")
def note_addend(request: HintRequest, note_id: int) -> HttpResponse:
    """Add an addendum to a signed note."""
    note = _note_or_404(request, note_id)
    try:
        services.note_addend(
            note=note,
            body=request.POST.get("body", ""),
            actor=Actor.from_hint(request.hint),
        )
    except services.NoteInvalid as exc:
        return _refused(request, note, str(exc), status=400)
    return redirect_with_session(request, "interactions:note", note_id=note.pk)


@require_POST
@hint_session(permission="write_notes")
def note_discard(request: HintRequest, note_id: int) -> HttpResponse:
    """Delete a draft Hint never saw; back to the patient's notes."""
    note = _note_or_404(request, note_id)
    try:
        services.note_discard(note=note, actor=Actor.from_hint(request.hint))
    except services.NoteError as exc:
        return _refused(request, note, str(exc), status=409)
    response = redirect_with_session(
        request, "interactions:patient-notes", patient_id=note.patient_hint_id
    )
    if request.htmx:
        redirect = HttpResponse("")
        redirect["HX-Redirect"] = response.url
        return redirect
    return response


@require_GET
@hint_session(permission="view_records")
def patient_notes(request: HintRequest, patient_id: str) -> HttpResponse:
    """Every note of one patient, newest first."""
    if not _patient_of_practice(request, patient_id):
        raise Http404("No such patient in this practice.")
    notes = Note.objects.for_practice(request.hint.practice).for_patient(patient_id)
    mirrored = (
        Patient.objects.for_practice(request.hint.practice).filter(hint_id=patient_id).first()
    )
    from_chart = request.hint.patient_name if request.hint.patient_id == patient_id else ""
    return render(
        request,
        "interactions/patient_notes.html",
        {
            "notes": notes.select_related("patient")[:LIST_LIMIT],
            "patient_id": patient_id,
            # A name for the heading, never the id: the mirror's, else the one the chart gave.
            "patient_name": (mirrored.full_name if mirrored else "") or from_chart,
            "can_write": request.hint.has("write_notes"),
        },
    )


def _my_drafts(request: HintRequest) -> list[Note]:
    if request.hint.user is None:
        return []  # a support session writes no notes of its own
    drafts = Note.objects.for_practice(request.hint.practice).drafts()
    return list(drafts.filter(author=request.hint.user).select_related("patient")[:LIST_LIMIT])


@require_GET
@hint_session(permission="view_records")
def my_drafts(request: HintRequest) -> HttpResponse:
    """The drafts the current user has not signed yet."""
    return render(request, "interactions/my_drafts.html", {"notes": _my_drafts(request)})


# --- panels for the surfaces (settings.HINT_SURFACE_PANELS) -----------------------------------


@require_GET
@hint_session(permission="view_records")
def chart_panel(request: HintRequest) -> HttpResponse:
    """clinical_chart: the session's patient's notes and a New note button."""
    patient_id = request.hint.patient_id
    notes = Note.objects.for_practice(request.hint.practice).for_patient(patient_id)
    return render(
        request,
        "interactions/_chart_panel.html",
        {
            "notes": notes.select_related("patient")[:LIST_LIMIT] if patient_id else [],
            "patient_id": patient_id,
            "can_write": request.hint.has("write_notes"),
        },
    )


@require_GET
@hint_session(permission="view_records")
def interaction_panel(request: HintRequest) -> HttpResponse:
    """clinical_interaction: open the note behind the chart's interaction, or offer a new one."""
    hint = request.hint
    note = None
    if hint.interaction_id:
        note = push.note_for_interaction(
            practice=hint.practice,
            interaction_id=hint.interaction_id,
            patient_hint_id=hint.patient_id,
            token=hint.token,
        )
    if note is not None:
        # The note page itself records the view.
        link = redirect_with_session(request, "interactions:note", note_id=note.pk).url
        response = render(
            request, "interactions/_interaction_panel.html", {"note": note, "link": link}
        )
        if request.htmx:
            response["HX-Redirect"] = link
        return response
    return render(
        request,
        "interactions/_interaction_panel.html",
        {
            "note": None,
            "patient_id": hint.patient_id,
            "unknown_interaction": bool(hint.interaction_id),
            "can_write": hint.has("write_notes"),
        },
    )


@require_GET
@hint_session(permission="view_records")
def my_drafts_panel(request: HintRequest) -> HttpResponse:
    """core_page: the current user's drafts."""
    return render(request, "interactions/_my_drafts_panel.html", {"notes": _my_drafts(request)})
