"""The one merge function: DESIGN.md's table of sync rules, row by row.

| situation                      | when both have a value | when one is blank       |
|--------------------------------|------------------------|-------------------------|
| MANUAL_LINK ("Sync to Hint")   | contact wins           | filled from the other   |
| NEW_PATIENT (webhook, option)  | patient wins           | filled from the other   |
| BATCH_PATIENTS (all patients)  | patient wins           | filled from the other   |
| BATCH_CSV (CSV of contact ids) | contact wins           | filled from the other   |
| PATIENT_UPDATED (linked)       | patient wins           | - (patient copied as is) |
| CONTACT_EDITED (linked)        | contact wins, pushed   | - (contact pushed as is) |

"As is" includes blanks: a field cleared on the winning side is cleared on the other.

Hint-only fields (practitioner, insurance, agreements) always come from the patient when its
state is known, and are never written to Hint.
"""

import enum
from dataclasses import dataclass, field
from typing import Any

from sync.fieldmap import HINT_ONLY_FIELDS, LABELS, TWO_WAY_FIELDS, Values, is_blank


class Winner(enum.Enum):
    CONTACT = "contact"
    PATIENT = "patient"


class Situation(enum.Enum):
    MANUAL_LINK = "manual_link"
    NEW_PATIENT = "new_patient"
    BATCH_PATIENTS = "batch_patients"
    BATCH_CSV = "batch_csv"
    PATIENT_UPDATED = "patient_updated"
    CONTACT_EDITED = "contact_edited"


@dataclass(frozen=True)
class Rule:
    winner: Winner
    fill_blanks: bool  # True: a blank side is filled from the other; False: winner copied as is


RULES: dict[Situation, Rule] = {
    Situation.MANUAL_LINK: Rule(Winner.CONTACT, fill_blanks=True),
    Situation.NEW_PATIENT: Rule(Winner.PATIENT, fill_blanks=True),
    Situation.BATCH_PATIENTS: Rule(Winner.PATIENT, fill_blanks=True),
    Situation.BATCH_CSV: Rule(Winner.CONTACT, fill_blanks=True),
    Situation.PATIENT_UPDATED: Rule(Winner.PATIENT, fill_blanks=False),
    Situation.CONTACT_EDITED: Rule(Winner.CONTACT, fill_blanks=False),
}


@dataclass
class MergeResult:
    """What to change on each side (canonical values; only fields that differ)."""

    contact_updates: Values = field(default_factory=dict)
    patient_updates: Values = field(default_factory=dict)

    @property
    def changes_nothing(self) -> bool:
        return not self.contact_updates and not self.patient_updates


def merge(*, situation: Situation, contact: Values, patient: Values) -> MergeResult:
    """Apply the rule of `situation` to canonical contact and patient values."""
    rule = RULES[situation]
    result = MergeResult()
    for name in TWO_WAY_FIELDS:
        ours, theirs = contact.get(name), patient.get(name)
        if ours == theirs or (is_blank(ours) and is_blank(theirs)):
            continue
        if rule.fill_blanks and is_blank(ours):
            result.contact_updates[name] = theirs
        elif (rule.fill_blanks and is_blank(theirs)) or rule.winner is Winner.CONTACT:
            result.patient_updates[name] = ours
        else:
            result.contact_updates[name] = theirs
    if situation is not Situation.CONTACT_EDITED:
        for name in HINT_ONLY_FIELDS:
            if contact.get(name) != patient.get(name):
                result.contact_updates[name] = patient.get(name)
    return result


class Source(enum.StrEnum):
    """Where a field's value after a merge comes from, as a preview shows it."""

    SAME = "same"  # both sides already agree
    CONTACT = "contact"  # the contact's value goes to Hint
    PATIENT = "patient"  # Hint's value comes to the contact
    HINT_ONLY = "hint_only"  # read-only in Hint: it comes over, never goes back


@dataclass(frozen=True)
class FieldChange:
    """One field of a preview: both sides' values now, and the value both hold afterwards."""

    name: str
    contact: Any
    patient: Any
    after: Any
    source: Source

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def changes_contact(self) -> bool:
        return self.source in (Source.PATIENT, Source.HINT_ONLY) and self.contact != self.after

    @property
    def changes_patient(self) -> bool:
        return self.source is Source.CONTACT


def field_changes(*, situation: Situation, contact: Values, patient: Values) -> list[FieldChange]:
    """Every mapped field under `situation`'s rule: what each side has and what both will have.

    The same `merge` decides, so a preview shows exactly what applying it would write.
    """
    result = merge(situation=situation, contact=contact, patient=patient)
    rows = []
    for name in TWO_WAY_FIELDS:
        ours, theirs = contact.get(name), patient.get(name)
        if name in result.patient_updates:
            rows.append(
                FieldChange(name, ours, theirs, result.patient_updates[name], Source.CONTACT)
            )
        elif name in result.contact_updates:
            rows.append(
                FieldChange(name, ours, theirs, result.contact_updates[name], Source.PATIENT)
            )
        else:
            rows.append(FieldChange(name, ours, theirs, ours, Source.SAME))
    for name in HINT_ONLY_FIELDS:
        ours, theirs = contact.get(name), patient.get(name)
        source = Source.HINT_ONLY if name in result.contact_updates else Source.SAME
        rows.append(
            FieldChange(name, ours, theirs, theirs if source is Source.HINT_ONLY else ours, source)
        )
    return rows
