"""The one decision of what a Hint patient does to our contacts: link, create, update, or leave.

Pure: values in, a decision out; no queries, no writes, no calls to Hint. Its two callers gather
the candidates their own way and carry the decision out: a new or changed patient from a webhook
or a backfill (`sync.inbound`, one patient) and the batch of all patients (`sync.batch_patients`,
a page of patients with a few queries for the whole page).
"""

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sync import fieldmap
from sync.fieldmap import Values
from sync.merge import Situation, merge
from sync.models import Contact


class Outcome(enum.StrEnum):
    LINKED = "linked"  # the single unlinked match takes the link
    CREATED = "created"  # no match, and creating is allowed: a new contact, linked
    UPDATED = "updated"  # already linked: the contact takes the patient's values
    UNCHANGED = "unchanged"  # already linked, and nothing differs
    MULTIPLE = "multiple"  # several contacts match: none is linked
    NO_MATCH = "no_match"  # no match, and creating is not allowed


@dataclass(frozen=True)
class Decision:
    """What to do for one patient: `contact` (the existing one concerned, if any) takes
    `contact_updates`; `patient_updates` are the two-way values owed to Hint."""

    outcome: Outcome
    contact: Contact | None = None
    contact_updates: Values = field(default_factory=dict)
    patient_updates: Values = field(default_factory=dict)
    matches: int = 0

    @property
    def makes_link(self) -> bool:
        """A new link: Hint is owed our integration fields (and `patient_updates`)."""
        return self.outcome in (Outcome.LINKED, Outcome.CREATED)


def patient_link_decide(
    *,
    patient: dict,
    linked: Contact | None,
    candidates: Sequence[Contact],
    situation: Situation,
    create: bool,
    taken: Collection[int] = (),
    theirs: Values | None = None,
) -> Decision:
    """Decide for one Hint patient (`patient`, as Hint sends it).

    `linked` is the contact already linked to it; `candidates` are the unlinked contacts with
    its demographic key; `taken` are contacts a caller linked earlier in the same run (they are
    no candidates any more). `situation` is the merge rule for a new link; `create` says whether
    a patient without a match gets a new contact. `theirs` is `fieldmap.patient_values(patient)`
    when the caller has it already.
    """
    theirs = fieldmap.patient_values(patient) if theirs is None else theirs
    if linked is not None:
        result = merge(
            situation=Situation.PATIENT_UPDATED,
            contact=fieldmap.contact_values(linked),
            patient=theirs,
        )
        # Fields the contact still owes Hint keep our value: ours is sent first, then Hint's
        # answer is applied (sync.contact_writes).
        owed = set(linked.hint_owed_fields or ())
        updates = {name: v for name, v in result.contact_updates.items() if name not in owed}
        outcome = Outcome.UPDATED if updates else Outcome.UNCHANGED
        return Decision(outcome, linked, updates)
    free = [c for c in candidates if c.pk not in taken]
    if len(free) > 1:
        return Decision(Outcome.MULTIPLE, matches=len(free))
    if free:
        contact = free[0]
        result = merge(
            situation=situation, contact=fieldmap.contact_values(contact), patient=theirs
        )
        return Decision(
            Outcome.LINKED, contact, result.contact_updates, result.patient_updates, matches=1
        )
    if create:
        # A new contact takes every value the patient has; Hint is owed only our link fields.
        return Decision(Outcome.CREATED, contact_updates=dict(theirs))
    return Decision(Outcome.NO_MATCH)
