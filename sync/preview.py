"""What a person's "Sync to Hint", "Create new patient" and "Unlink" will do, before they do it.

A preview writes nothing, here or in Hint: a link preview reads the patient fresh from Hint (one
detail GET) and asks `sync.merge.field_changes`, which the same `merge` decides, so the preview is
what applying writes. A preview carries a fingerprint of what it was computed from (`seen`): a
keyed digest of each field on each side, of the patient's `updated_at` and of the links it ends.
Applying recomputes it from both sides as they are then and carries the change out only when
nothing differs; otherwise `PreviewChanged` hands back the new preview with the changed fields
marked, and nothing is written.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.crypto import salted_hmac

from handshake.audit import Actor
from hintpartner import dates
from hintpartner.hint import api, decode, errors
from hintpartner.hint.paths import (
    INTEGRATION_ERROR_MESSAGE,
    INTEGRATION_RECORD_ID,
    INTEGRATION_WEB_LINK,
    PATIENT_FIELDS,
)
from hintpartner.hint.policy import error_sentence
from sync import contacts, fieldmap
from sync.merge import FieldChange, Situation, Source, field_changes
from sync.models import Contact, Patient

_SALT = "sync.preview.seen"
_LINKS = "links"  # the part naming the links a change ends
_UPDATED = "p:updated_at"  # Hint's own clock for the patient: any change there, mapped or not
MAX_SEEN = 4000  # characters of a posted fingerprint; more is not one of ours
_KINDS = {m.contact: m.kind for m in fieldmap.FIELD_MAP}
# Hint's fields that unlinking empties on the patient, as a person reads them.
HINT_FIELD_WORDS = {
    INTEGRATION_RECORD_ID: "this contact's number in this app (integration record id)",
    INTEGRATION_WEB_LINK: "the link from the patient back to this contact (integration web link)",
    INTEGRATION_ERROR_MESSAGE: "any error message this app left there (integration error message)",
}


class PreviewChanged(Exception):
    """Either side changed since the preview a person confirmed: nothing was written."""

    def __init__(self, preview: "LinkPreview | CreatePreview") -> None:
        super().__init__("changed since the preview")
        self.preview = preview


# --- fingerprints ----------------------------------------------------------------------------


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return salted_hmac(_SALT, text).hexdigest()[:16]


def seen_text(parts: dict[str, str]) -> str:
    """The fingerprint as the form carries it: `part=digest;…`."""
    return ";".join(f"{name}={digest}" for name, digest in sorted(parts.items()))


def seen_parse(text: str) -> dict[str, str]:
    """A posted fingerprint back into its parts; what is not one of ours gives no parts."""
    parts: dict[str, str] = {}
    for item in (text or "")[:MAX_SEEN].split(";"):
        name, _, digest = item.partition("=")
        if name and digest:
            parts[name.strip()] = digest.strip()
    return parts


def _differing(now: dict[str, str], before: dict[str, str]) -> frozenset[str]:
    return frozenset(name for name in now if before.get(name) != now[name])


def _contact_parts(values: fieldmap.Values, names: Iterable[str]) -> dict[str, str]:
    return {f"c:{name}": _digest(values.get(name)) for name in names}


# --- what a person reads -----------------------------------------------------------------------


def value_text(name: str, value: Any) -> str:
    """A canonical field value as a person reads it ("" for blank)."""
    if fieldmap.is_blank(value):
        return ""
    kind = _KINDS[name]
    if kind is fieldmap.Kind.DATE:
        return dates.date_text(value)
    if kind is fieldmap.Kind.DATETIME:
        return dates.datetime_text(decode.parse_time(value))
    if kind is fieldmap.Kind.BOOL:
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class PatientRef:
    """A Hint patient named for a person: its name as this app last saw it, and its id."""

    id: str
    name: str = ""


def _patient_ref(practice_id: int, patient_id: str) -> PatientRef:
    """The name from the mirror of Hint's patients (no call to Hint); "" when not known here."""
    row = Patient.objects.for_practice(practice_id).filter(hint_id=patient_id).first()
    name = " ".join(p for p in (row.first_name, row.last_name) if p) if row else ""
    return PatientRef(patient_id, name)


@dataclass(frozen=True)
class Row:
    """One field of a link preview, with the words for what happens to it."""

    change: FieldChange
    changed: bool  # differs from the preview the person saw

    @property
    def label(self) -> str:
        return self.change.label

    @property
    def contact_text(self) -> str:
        return value_text(self.change.name, self.change.contact)

    @property
    def patient_text(self) -> str:
        return value_text(self.change.name, self.change.patient)

    @property
    def after_text(self) -> str:
        return value_text(self.change.name, self.change.after)

    @property
    def effect(self) -> str:
        """Which side wins, in words."""
        change = self.change
        if change.source is Source.CONTACT:
            if fieldmap.is_blank(change.patient):
                return "Fills Hint's blank from the contact"
            if fieldmap.is_blank(change.after):
                return "Contact wins: cleared in Hint"
            return "Contact wins: replaces Hint's value"
        if change.source is Source.PATIENT:
            return "Fills the contact's blank from Hint"
        if change.source is Source.HINT_ONLY:
            if fieldmap.is_blank(change.after):
                return "Read-only: cleared here, Hint has none"
            return "Read-only: comes from Hint"
        return "Already the same"

    @property
    def tone(self) -> str:
        """The badge's colour: a value of Hint's replaced is the one to read twice."""
        change = self.change
        if change.source is Source.CONTACT and not fieldmap.is_blank(change.patient):
            return "warning"
        return "" if change.source is Source.SAME else "success"


# --- "Sync to Hint": link to a chosen patient --------------------------------------------------


@dataclass
class LinkPreview:
    """Both sides of one field each, what both hold after the link, and the links it ends."""

    contact: Contact
    patient_id: str
    patient: dict[str, Any]
    changes: list[FieldChange]
    patient_losing: PatientRef | None  # the contact's current patient, which loses our link
    contacts_losing: list[Contact]  # other contacts here linked to this patient now
    parts: dict[str, str]
    changed: frozenset[str] = frozenset()

    @property
    def seen(self) -> str:
        return seen_text(self.parts)

    @property
    def patient_name(self) -> str:
        values = fieldmap.patient_values(self.patient)
        return " ".join(v for v in (values["first_name"], values["last_name"]) if v)

    def _rows(self, sources: tuple[Source, ...]) -> list[Row]:
        rows = []
        for change in self.changes:
            if change.source not in sources:
                continue
            marked = bool({f"c:{change.name}", f"p:{change.name}"} & self.changed)
            rows.append(Row(change, marked))
        return rows

    @property
    def to_hint(self) -> list[Row]:
        return self._rows((Source.CONTACT,))

    @property
    def from_hint(self) -> list[Row]:
        return self._rows((Source.PATIENT,))

    @property
    def read_only(self) -> list[Row]:
        """Hint-only fields that come over (their value here changes)."""
        return self._rows((Source.HINT_ONLY,))

    @property
    def same(self) -> list[Row]:
        return self._rows((Source.SAME,))

    @property
    def rows_changing(self) -> list[Row]:
        return self.to_hint + self.from_hint + self.read_only

    @property
    def change_sentence(self) -> str:
        """What differs from the preview the person saw, in words ("" when nothing does)."""
        if not self.changed:
            return ""
        ours = _labels(self.changed, "c:")
        theirs = _labels(self.changed, "p:")
        said = []
        if ours:
            said.append(f"the contact was changed here ({', '.join(ours)})")
        if theirs:
            said.append(f"the patient was changed in Hint ({', '.join(theirs)})")
        elif _UPDATED in self.changed:
            said.append("the patient was changed in Hint, in fields this app does not sync")
        if _LINKS in self.changed:
            said.append("the contact's or the patient's link changed")
        return (
            f"Nothing was written: since the preview, {'; '.join(said)}. The preview below is "
            "what syncing does now (changed fields are marked); check it and press "
            "“Sync patient” again."
        )


def _labels(changed: frozenset[str], prefix: str) -> list[str]:
    return [fieldmap.LABELS[name] for name in fieldmap.ALL_FIELDS if f"{prefix}{name}" in changed]


def _link_parts(contact: Contact, patient_id: str, others: list[Contact]) -> dict[str, str]:
    return {_LINKS: _digest([patient_id, contact.hint_patient_id, sorted(c.pk for c in others)])}


def link_preview_from(
    *, contact: Contact, patient_id: str, patient: dict[str, Any], seen: str = ""
) -> LinkPreview:
    """The preview of linking `contact` to `patient` (as Hint answered it); reads only here."""
    ours = fieldmap.contact_values(contact)
    theirs = fieldmap.patient_values(patient)
    others = list(
        Contact.objects.for_practice(contact.practice_id)
        .filter(hint_patient_id=patient_id)
        .exclude(pk=contact.pk)
        .order_by("pk")
    )
    parts = {
        **_contact_parts(ours, fieldmap.ALL_FIELDS),
        **{f"p:{name}": _digest(theirs.get(name)) for name in fieldmap.ALL_FIELDS},
        _UPDATED: _digest(patient.get(PATIENT_FIELDS["updated_at"])),
        **_link_parts(contact, patient_id, others),
    }
    losing = None
    if contact.hint_patient_id and contact.hint_patient_id != patient_id:
        losing = _patient_ref(contact.practice_id, contact.hint_patient_id)
    return LinkPreview(
        contact=contact,
        patient_id=patient_id,
        patient=patient,
        changes=field_changes(situation=Situation.MANUAL_LINK, contact=ours, patient=theirs),
        patient_losing=losing,
        contacts_losing=others,
        parts=parts,
        changed=_differing(parts, seen_parse(seen)) if seen else frozenset(),
    )


def _patient_read(*, token: str, patient_id: str) -> dict[str, Any]:
    """The patient as Hint holds it now (one detail GET); SyncError in words when it cannot."""
    try:
        data = api.patient_get(token=token, patient_id=patient_id)
    except errors.HintError as exc:
        raise contacts.SyncError(
            f"The patient could not be read from Hint, and nothing changed. {error_sentence(exc)}"
        ) from exc
    if not isinstance(data, dict) or not data:
        raise contacts.SyncError("Hint sent no patient. Search again and choose the patient.")
    return data


def link_preview(*, contact: Contact, patient_id: str, token: str) -> LinkPreview:
    """Read the patient fresh from Hint and preview the link; writes nothing anywhere."""
    data = _patient_read(token=token, patient_id=patient_id)
    return link_preview_from(contact=contact, patient_id=patient_id, patient=data)


def link_apply(
    *, contact: Contact, patient_id: str, seen: str, actor: Actor, token: str
) -> Contact:
    """Link as previewed: re-read both sides, and carry it out only if nothing changed.

    Raises PreviewChanged (nothing written) with the new preview when either side, or a link the
    change ends, differs from the fingerprint `seen` the person confirmed.
    """
    data = _patient_read(token=token, patient_id=patient_id)
    preview = link_preview_from(contact=contact, patient_id=patient_id, patient=data, seen=seen)
    if preview.changed or not seen:
        raise PreviewChanged(preview)
    return contacts.contact_link(
        contact=contact, patient_id=patient_id, actor=actor, token=token, patient=data
    )


# --- "Create new patient" ----------------------------------------------------------------------


@dataclass
class CreatePreview:
    """The patient Hint will be asked to create: the contact's filled-in two-way fields."""

    contact: Contact
    values: fieldmap.Values
    patient_losing: PatientRef | None
    parts: dict[str, str]
    changed: frozenset[str] = frozenset()
    problem: str = ""  # why it cannot be created as it is

    @property
    def seen(self) -> str:
        return seen_text(self.parts)

    @property
    def rows(self) -> list[tuple[str, str, bool]]:
        """(label, value as read, changed since the confirmation the person saw)."""
        return [
            (fieldmap.LABELS[name], value_text(name, value), f"c:{name}" in self.changed)
            for name, value in self.values.items()
        ]

    @property
    def change_sentence(self) -> str:
        if not self.changed:
            return ""
        labels = _labels(self.changed, "c:")
        what = f"the contact was changed ({', '.join(labels)})" if labels else "its link changed"
        return (
            f"Nothing was created: since you opened this page, {what}. Below is what would be "
            "created now (changed fields are marked); check it and confirm again."
        )


def create_preview(*, contact: Contact, seen: str = "") -> CreatePreview:
    """What "Create new patient" sends Hint (the same values `patient_create_from_contact`
    sends); no call to Hint."""
    values = contacts.create_values(contact)
    all_values = fieldmap.contact_values(contact)
    parts = {
        **_contact_parts(all_values, fieldmap.TWO_WAY_FIELDS),
        _LINKS: _digest(contact.hint_patient_id),
    }
    losing = (
        _patient_ref(contact.practice_id, contact.hint_patient_id)
        if contact.hint_patient_id
        else None
    )
    problem = ""
    if not contact.first_name.strip() or not contact.last_name.strip():
        problem = contacts.NAMES_NEEDED
    return CreatePreview(
        contact=contact,
        values=values,
        patient_losing=losing,
        parts=parts,
        changed=_differing(parts, seen_parse(seen)) if seen else frozenset(),
        problem=problem,
    )


def create_apply(*, contact: Contact, seen: str, actor: Actor, token: str) -> Contact:
    """Create the patient as confirmed; PreviewChanged (nothing sent) if the contact changed."""
    preview = create_preview(contact=contact, seen=seen)
    if preview.changed or not seen:
        raise PreviewChanged(preview)
    return contacts.patient_create_from_contact(contact=contact, actor=actor, token=token)


# --- "Unlink" --------------------------------------------------------------------------------


@dataclass
class UnlinkPreview:
    """What unlinking clears: here, the link and the Hint-only copies; in Hint, our fields."""

    contact: Contact
    patient: PatientRef | None
    hint_only: list[tuple[str, str]] = field(default_factory=list)  # (label, value) to clear
    owed: list[str] = field(default_factory=list)  # labels of changes not yet sent to Hint
    hint_fields: list[str] = field(default_factory=list)  # Hint's fields emptied, in words


def unlink_preview(*, contact: Contact) -> UnlinkPreview:
    """Read only here: the link, the copies of Hint's fields, and what is still owed to Hint."""
    if not contact.hint_patient_id:
        return UnlinkPreview(contact=contact, patient=None)
    values = fieldmap.contact_values(contact)
    return UnlinkPreview(
        contact=contact,
        patient=_patient_ref(contact.practice_id, contact.hint_patient_id),
        hint_only=[
            (fieldmap.LABELS[name], value_text(name, values[name]))
            for name in fieldmap.HINT_ONLY_FIELDS
            if not fieldmap.is_blank(values[name])
        ],
        owed=[
            fieldmap.LABELS[name]
            for name in fieldmap.TWO_WAY_FIELDS
            if name in (contact.hint_owed_fields or ())
        ],
        hint_fields=[HINT_FIELD_WORDS.get(name, name) for name in contacts.UNLINK_CLEARED],
    )
