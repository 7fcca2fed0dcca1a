"""Contacts an admin manages: export the list as the CSV batch's input, delete a contact.

Both need `administer`. The export is every contact's demographics in one file, the most a
single click can take out of the app, and its use is the CSV batch, which only admins run
(DESIGN.md: "installation, batches, CSV, …" are the admin's); a Hint support session (which holds
`view_settings`) runs no batch, so it has no need for the file.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from handshake.audit import Actor, audit_record
from handshake.decorators import HintRequest, hint_session
from handshake.links import url_with_session
from hintpartner.csv_safe import cell_safe
from sync import contact_delete, contact_state, fieldmap
from sync.models import Contact, Patient
from sync.views_contacts import contacts_filtered

# The export's columns: the contact id first (the CSV batch reads column one), then the link, the
# state, and the synced fields under their field-map names.
EXPORT_HEADER: tuple[str, ...] = (
    "contact_id",
    "hint_patient_id",
    "sync_state",
    *fieldmap.TWO_WAY_FIELDS,
)
_EXPORT_COLUMNS = (
    "pk",
    "hint_patient_id",
    "hint_write_state",
    *fieldmap.TWO_WAY_FIELDS,
)
EXPORT_CHUNK = 2000


class _Echo:
    """A file-like object whose write returns the line: csv.writer feeding a stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return cell_safe(str(value))


def export_rows(contacts: Iterable[Contact]) -> Iterator[list[str]]:
    """The header, then one formula-safe row per contact."""
    yield list(EXPORT_HEADER)
    for contact in contacts:
        state = contact_state.state_of(contact)
        yield [
            str(contact.pk),
            _cell(contact.hint_patient_id),
            state.key,
            *(_cell(getattr(contact, name)) for name in fieldmap.TWO_WAY_FIELDS),
        ]


@require_GET
@hint_session(permission="administer")
def contacts_export(request: HintRequest) -> StreamingHttpResponse:
    """The contacts the list shows (its search and state), streamed as CSV by contact id."""
    qs, q, state = contacts_filtered(request)
    audit_record(
        practice=request.hint.practice,
        actor=Actor.from_hint(request.hint),
        action="contacts.exported",
        target_type="contacts",
        detail=", ".join(
            part
            for part in (f"search “{q}”" if q else "", f"state {state.key}" if state else "")
            if part
        )
        or "all contacts",
    )
    # Only the exported columns, a chunk at a time: memory stays flat however many contacts.
    contacts = qs.order_by("pk").only(*_EXPORT_COLUMNS).iterator(chunk_size=EXPORT_CHUNK)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in export_rows(contacts))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"contacts-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_http_methods(["GET", "POST"])
@hint_session(permission="administer")
def contact_delete_view(request: HintRequest, pk: int) -> HttpResponse:
    """GET: what deleting will do; POST: delete (a linked contact is unlinked in Hint first)."""
    contact = get_object_or_404(Contact.objects.for_practice(request.hint.practice), pk=pk)
    if request.method == "GET":
        return render(request, "sync/contacts_delete.html", _confirm_context(contact))
    try:
        deleted = contact_delete.contact_delete(
            contact=contact, actor=Actor.from_hint(request.hint), token=request.hint.token
        )
    except contact_delete.DeleteRefused as exc:
        context = _confirm_context(contact, error=str(exc))
        # 503: Hint did not answer (try again later); 409: Hint refused, or the contact changed.
        status = 503 if exc.transient else 409
        return render(request, "sync/contacts_delete.html", context, status=status)
    # The list says it was done; no name in the address (addresses end up in logs).
    done = url_with_session(
        reverse("sync:contacts"),
        request.hint.session_key,
        deleted="unlinked" if deleted.patient_id else "1",
    )
    response = HttpResponseRedirect(done)
    response.status_code = 303
    return response


def _confirm_context(contact: Contact, **extra: object) -> dict:
    patient = None
    if contact.hint_patient_id:
        patient = (
            Patient.objects.for_practice(contact.practice_id)
            .filter(hint_id=contact.hint_patient_id)
            .only("pk", "hint_id", "first_name", "last_name", "destroyed_at")
            .first()
        )
    return {
        "contact": contact,
        "state": contact_state.state_of(contact),
        "patient": patient,
        **extra,
    }
