"""Sync's public entry points, called by webhooks and backfill after the mirror changes."""

from typing import Any


def patient_changed(*, patient: Any) -> None:
    """React to a change of this practice's `Patient` mirror (created, updated, inactive,
    or destroyed: check `patient.is_destroyed`).

    Called by webhook processing and by backfill, inside the transaction that applied the
    change, only when the mirror really changed. Queue calls to Hint with `on_commit`. An
    exception rolls the mirror change back and the event is retried. The contact sync (issue 6)
    fills this in; until then it does nothing.
    """
    return None
