"""Contact pages: list with live search, create, edit, detail (linking: `sync.views_link`)."""

from datetime import date, datetime
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from handshake.activity import record_history
from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.urls import redirect_with_session
from hintpartner import dates
from sync import contact_state, contact_writes, contacts, fieldmap
from sync.matching import normalize_name
from sync.models import BatchRow, Contact, Patient

PAGE_SIZE = 25


GENDER_CHOICES = [("", "not recorded")] + [(v, v) for v in fieldmap.GENDER_IDENTITIES]


class ContactForm(forms.ModelForm):
    """The two-way fields; Hint-only fields are never taken from a form. Every value is checked
    with the field map's rules (`fieldmap.problems`) before it is saved, so what reaches Hint is
    what Hint accepts: gender identity is one of Hint's values, or the person's own words under
    "not listed"; phone numbers are kept in one form and sent with `us_formattable`."""

    gender_identity = forms.ChoiceField(choices=GENDER_CHOICES, required=False)
    gender_other = forms.CharField(
        label="Gender identity, in their words",
        required=False,
        max_length=100,
        help_text='Only with "not listed".',
    )

    class Meta:
        model = Contact
        fields = list(fieldmap.TWO_WAY_FIELDS)
        widgets = {"dob": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        labels = {name: fieldmap.LABELS[name] for name in fieldmap.TWO_WAY_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gender_identity"].label = fieldmap.LABELS["gender_identity"]
        order = list(self.fields)
        order.remove("gender_other")
        order.insert(order.index("gender_identity") + 1, "gender_other")
        self.order_fields(order)
        current = fieldmap.canonical_value("gender_identity", self.initial.get("gender_identity"))
        if current and current not in fieldmap.GENDER_IDENTITIES:
            self.initial["gender_identity"] = fieldmap.GENDER_NOT_LISTED
            self.initial["gender_other"] = current

    def clean(self) -> dict:
        data = super().clean()
        if not (data.get("first_name") or "").strip() and not (data.get("last_name") or "").strip():
            raise forms.ValidationError("Give the contact at least a first or a last name.")
        other = (data.pop("gender_other", "") or "").strip()
        if data.get("gender_identity") == fieldmap.GENDER_NOT_LISTED:
            if not other:
                self.add_error("gender_other", "Describe the gender identity in their words.")
            data["gender_identity"] = other
        elif other:
            self.add_error("gender_other", 'Choose "not listed" to describe it in other words.')
        for name, sentence in fieldmap.problems(data).items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, sentence)
        for name in fieldmap.PHONE_FIELDS:
            if data.get(name) and name not in self.errors:
                data[name] = fieldmap.phone_text(data[name])
        return data


def _contacts(request: HintRequest) -> QuerySet[Contact]:
    return Contact.objects.for_practice(request.hint.practice)


def _search(qs: QuerySet[Contact], q: str) -> QuerySet[Contact]:
    words = [normalize_name(w) for w in q.split()]
    for word in [w for w in words if w]:
        qs = qs.filter(
            Q(first_name_key__startswith=word)
            | Q(last_name_key__startswith=word)
            | Q(email__istartswith=word)
            | Q(hint_patient_id=word)
        )
    return qs


def contacts_filtered(
    request: HintRequest,
) -> tuple[QuerySet[Contact], str, contact_state.SyncState | None]:
    """The practice's contacts as the list's `q` and `state` ask, and those two values."""
    q = request.GET.get("q", "").strip()[:100]
    state = contact_state.state_from_query(request.GET.get("state"))
    return contact_state.states_filter(_search(_contacts(request), q), state), q, state


def last_batches(*, practice: Any, contact_ids: list[int]) -> dict[int, tuple[int, str]]:
    """The last batch that handled each contact (its pk and Batch Sync ID): one query for a
    page of contacts, through BatchRow's index on the contact."""
    rows = (
        BatchRow.objects.for_practice(practice)
        .filter(contact_id__in=contact_ids)
        .exclude(outcome=BatchRow.Outcome.PENDING)  # listed, but not reached by the batch
        .order_by("contact_id", "-batch_id")
        .values_list("contact_id", "batch_id", "batch__sync_id")
    )
    found: dict[int, tuple[int, str]] = {}
    for contact_id, batch_id, sync_id in rows:
        found.setdefault(contact_id, (batch_id, sync_id))
    return found


@require_GET
@hint_session(permission="view_records")
def contact_list(request: HintRequest) -> HttpResponse:
    """All contacts by name; `q` searches as the user types (htmx swaps the rows), `state`
    keeps one sync state."""
    try:
        page = max(1, min(int(request.GET.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    qs, q, state = contacts_filtered(request)
    qs = qs.order_by("last_name_key", "first_name_key", "pk")
    start = (page - 1) * PAGE_SIZE
    rows = list(qs[start : start + PAGE_SIZE + 1])
    shown = rows[:PAGE_SIZE]
    batches = (
        last_batches(practice=request.hint.practice, contact_ids=[c.pk for c in shown])
        if request.hint.has("view_settings")
        else {}
    )
    context = {
        "rows": [
            {"contact": c, "state": contact_state.state_of(c), "last_batch": batches.get(c.pk)}
            for c in shown
        ],
        "q": q,
        "state": state,
        "states": contact_state.STATES,
        "page": page,
        "has_next": len(rows) > PAGE_SIZE,
        "deleted": request.GET.get("deleted", ""),
    }
    if request.htmx:
        return render(request, "sync/contacts_rows.html", context)
    return render(request, "sync/contacts_list.html", context)


@require_http_methods(["GET", "POST"])
@hint_session(permission="edit_records")
def contact_create(request: HintRequest) -> HttpResponse:
    form = ContactForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            contact = contacts.contact_create(
                practice=request.hint.practice,
                values=form.cleaned_data,
                actor=Actor.from_hint(request.hint),
            )
            return redirect_with_session(request, "sync:contact-detail", contact.pk)
        return render(request, "sync/contacts_form.html", {"form": form}, status=400)
    return render(request, "sync/contacts_form.html", {"form": form})


def _facts(contact: Contact, names: tuple[str, ...]) -> list[tuple[str, object]]:
    out = []
    for name in names:
        value = getattr(contact, name)
        if name == "sex":
            value = contact.get_sex_display() if contact.sex else ""
        elif isinstance(value, datetime):
            value = dates.datetime_text(value)
        elif isinstance(value, date):
            value = dates.date_text(value)
        out.append((fieldmap.LABELS[name], value))
    return out


@require_GET
@hint_session(permission="view_records")
def contact_detail(request: HintRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(_contacts(request), pk=pk)
    audit_record(
        practice=contact.practice_id,
        actor=Actor.from_hint(request.hint),
        action="contact.viewed",
        target_type="contact",
        target_id=pk,
        patient=contact.hint_patient_id,
    )
    history = record_history(hint=request.hint, target=f"contact:{pk}")
    return render(request, "sync/contacts_detail.html", _detail_context(contact, history=history))


@require_GET
@hint_session(permission="view_records")
def contact_status(request: HintRequest, pk: int) -> HttpResponse:
    """The contact's standing with Hint (htmx polls it while a change waits to reach Hint)."""
    contact = get_object_or_404(_contacts(request), pk=pk)
    context = {"contact": contact, "state": contact_state.state_of(contact)}
    return render(request, "sync/contacts_status.html", context)


@require_POST
@hint_session(permission="edit_records")
def contact_write_retry(request: HintRequest, pk: int) -> HttpResponse:
    """Send a change Hint refused once more (after its cause was fixed)."""
    contact = get_object_or_404(_contacts(request), pk=pk)
    contact_writes.contact_write_retry(contact=contact, actor=Actor.from_hint(request.hint))
    return redirect_with_session(request, "sync:contact-detail", contact.pk)


def _linked_patient(contact: Contact) -> Patient | None:
    """The mirror's row for the contact's patient (its chart link, whether Hint deleted it)."""
    if not contact.hint_patient_id:
        return None
    mirror = Patient.objects.for_practice(contact.practice_id)
    return (
        mirror.filter(hint_id=contact.hint_patient_id)
        .only("pk", "hint_id", "provider_web_link", "destroyed_at")
        .first()
    )


def _detail_context(contact: Contact, **extra: object) -> dict:
    patient = _linked_patient(contact)
    patient_deleted = patient is not None and patient.is_destroyed
    return {
        "contact": contact,
        "state": contact_state.state_of(contact),
        "patient_deleted": patient_deleted,
        # Hint's chart of the linked patient, opened in Hint's own window (not in our frame).
        "chart_link": patient.provider_web_link if patient and not patient_deleted else "",
        "two_way": _facts(contact, fieldmap.TWO_WAY_FIELDS),
        "hint_only": _facts(contact, fieldmap.HINT_ONLY_FIELDS),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@hint_session(permission="edit_records")
def contact_edit(request: HintRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(_contacts(request), pk=pk)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "sync/contacts_form.html", {"form": form, "contact": contact}, status=400
            )
        # Stored here with what Hint is owed; the worker sends it, so this answers at once.
        contacts.contact_update(
            contact=contact,
            values={n: form.cleaned_data[n] for n in fieldmap.TWO_WAY_FIELDS},
            actor=Actor.from_hint(request.hint),
        )
        return redirect_with_session(request, "sync:contact-detail", contact.pk)
    return render(request, "sync/contacts_form.html", {"form": form, "contact": contact})


@require_GET
@hint_session(permission="view_records")
def contacts_panel(request: HintRequest) -> HttpResponse:
    """The core page's panel: a contact search box and the sync state filter."""
    return render(request, "sync/contacts_panel.html", {"states": contact_state.STATES})
