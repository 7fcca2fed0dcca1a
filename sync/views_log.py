"""Sync log (list with level filters, detail) and the sync options page (admins)."""

from django import forms
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from handshake.audit import Actor
from handshake.decorators import HintRequest, hint_session
from handshake.urls import redirect_with_session
from sync import contact_writes
from sync.models import Batch, Contact, SyncLog, SyncOptions
from sync.options import options_for, options_save

PAGE_SIZE = 50


@require_GET
@hint_session(permission="view_settings")
def log_list(request: HintRequest) -> HttpResponse:
    entries = SyncLog.objects.for_practice(request.hint.practice)
    level = request.GET.get("level", "")
    if level in SyncLog.Level.values:
        entries = entries.filter(level=level)
    else:
        level = ""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    rows = list(entries.order_by("-created_at", "-pk")[start : start + PAGE_SIZE + 1])
    context = {
        "entries": rows[:PAGE_SIZE],
        "retryable": _retryable(request, rows[:PAGE_SIZE]),
        "level": level,
        "levels": SyncLog.Level.choices,
        "page": page,
        "has_next": len(rows) > PAGE_SIZE,
        "options": options_for(request.hint.practice),
    }
    return render(request, "sync/log_list.html", context)


def _failed_contact(request: HintRequest, entry: SyncLog) -> Contact | None:
    """The entry's contact, when its change is refused by Hint right now (Retry applies)."""
    if not entry.contact_id_ref.isdigit():
        return None
    contacts = Contact.objects.for_practice(request.hint.practice)
    return contacts.filter(
        pk=int(entry.contact_id_ref), hint_write_state=Contact.HintWrite.FAILED
    ).first()


def _retryable(request: HintRequest, entries: list[SyncLog]) -> set[int]:
    """Entries (pks) whose contact's change Hint refused and a Retry may send (one query)."""
    refs = {int(e.contact_id_ref) for e in entries if e.contact_id_ref.isdigit()}
    if not refs:
        return set()
    failed = set(
        Contact.objects.for_practice(request.hint.practice)
        .filter(pk__in=refs, hint_write_state=Contact.HintWrite.FAILED)
        .values_list("pk", flat=True)
    )
    return {
        e.pk
        for e in entries
        if e.level != SyncLog.Level.DEBUG
        and e.contact_id_ref.isdigit()
        and int(e.contact_id_ref) in failed
    }


@require_GET
@hint_session(permission="view_settings")
def log_detail(request: HintRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(SyncLog.objects.for_practice(request.hint.practice), pk=pk)
    failed = _failed_contact(request, entry) if entry.level != SyncLog.Level.DEBUG else None
    return render(request, "sync/log_detail.html", {"entry": entry, "retryable": failed})


@require_POST
@hint_session(permission="edit_records")
def log_retry(request: HintRequest, pk: int) -> HttpResponse:
    """Retry from the log: send the entry's contact's refused change to Hint again."""
    entry = get_object_or_404(SyncLog.objects.for_practice(request.hint.practice), pk=pk)
    contact = _failed_contact(request, entry)
    if contact is not None:
        contact_writes.contact_write_retry(contact=contact, actor=Actor.from_hint(request.hint))
    return redirect_with_session(request, "sync:log-detail", entry.pk)


class OptionsForm(forms.ModelForm):
    class Meta:
        model = SyncOptions
        fields = [
            "create_contacts_for_new_patients",
            "create_contacts_when_batch_unmatched",
            "log_level",
            "log_retention_days",
        ]
        labels = {
            "create_contacts_for_new_patients": (
                "Create a contact for a new Hint patient without a demographic match"
            ),
            "create_contacts_when_batch_unmatched": (
                "Create a contact when the patients batch finds no demographic match"
            ),
            "log_level": "Sync log level",
            "log_retention_days": "Keep sync log entries for (days)",
        }

    def clean_log_retention_days(self) -> int:
        days = self.cleaned_data["log_retention_days"]
        if not 1 <= days <= 3650:
            raise forms.ValidationError("Choose between 1 and 3650 days.")
        return days


@require_http_methods(["GET", "POST"])
@hint_session(permission={"GET": "view_settings", "POST": "administer"})
def options_edit(request: HintRequest) -> HttpResponse:
    options = options_for(request.hint.practice)
    form = OptionsForm(request.POST or None, instance=options)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "sync/options.html", {"form": form}, status=400)
        options_save(options=form.save(commit=False), actor=Actor.from_hint(request.hint))
        response = redirect_with_session(request, "sync:options")
        response["Location"] += "&saved=1"
        return response
    saved = request.GET.get("saved") == "1"
    return render(request, "sync/options.html", {"form": form, "saved": saved})


@require_GET
@hint_session(permission="view_records")
def settings_panel(request: HintRequest) -> HttpResponse:
    """The settings surface's panel: latest batch and links to batches, log and options.

    Anyone may load it (the surface loads every panel); only admins see its content.
    """
    latest = Batch.objects.for_practice(request.hint.practice).order_by("-created_at").first()
    return render(request, "sync/options_panel.html", {"latest": latest})
