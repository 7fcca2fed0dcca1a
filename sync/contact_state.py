"""A contact's sync state, one table for every page: the list, its filter, the detail, the export.

The state is derived from the contact's own fields, never stored: not linked (no Hint patient),
waiting (linked, a change is owed to Hint and sent in the background), error (linked, Hint refused
the last write: a person must act) and synced (linked, nothing owed: Hint confirmed what we hold).
`state_of` reads it from a row (`Contact.hint_status`) and `states_filter` selects it in a query;
a test checks both agree for every state.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from sync.models import Contact

_WRITE = Contact.HintWrite


@dataclass(frozen=True)
class SyncState:
    key: str  # the filter's value and the export's column
    label: str  # the filter's choice
    badge: str  # the words on the badge: true, never ahead of Hint
    tone: str  # the badge's class


SYNCED = SyncState("synced", "Synced", "Synced to Hint", "success")
WAITING = SyncState("waiting", "Waiting", "Saved here · waiting to reach Hint", "warning")
ERROR = SyncState("error", "Error", "Saved here · not accepted by Hint", "error")
NOT_LINKED = SyncState("not_linked", "Not linked", "Not linked to a Hint patient", "")
STATES: tuple[SyncState, ...] = (SYNCED, WAITING, ERROR, NOT_LINKED)
BY_KEY = {state.key: state for state in STATES}

# `Contact.hint_status` (the row's own reading) -> the state.
_FROM_STATUS = {
    "synced": SYNCED,
    _WRITE.WAITING.value: WAITING,
    _WRITE.FAILED.value: ERROR,
    "unlinked": NOT_LINKED,
}

_LINKED = ~Q(hint_patient_id="")
# Each state as a condition on the same fields `Contact.hint_status` reads. The index
# `contact_state_name` (practice, hint_write_state, names) serves the linked ones in list order;
# `contact_unlinked_name` the unlinked ones.
_CONDITIONS = {
    SYNCED.key: _LINKED & Q(hint_write_state=_WRITE.NONE),
    WAITING.key: _LINKED & Q(hint_write_state=_WRITE.WAITING),
    ERROR.key: _LINKED & Q(hint_write_state=_WRITE.FAILED),
    NOT_LINKED.key: Q(hint_patient_id=""),
}
assert set(_CONDITIONS) == set(BY_KEY)


def state_of(contact: Contact) -> SyncState:
    """The contact's sync state, from its own fields."""
    return _FROM_STATUS[contact.hint_status]


def state_from_query(raw: str | None) -> SyncState | None:
    """The state a `state=` query parameter names; None for none or an unknown one."""
    return BY_KEY.get((raw or "").strip())


def states_filter(contacts: QuerySet[Contact], state: SyncState | None) -> QuerySet[Contact]:
    """`contacts` in `state` (all of them for None)."""
    return contacts if state is None else contacts.filter(_CONDITIONS[state.key])
