"""What each webhook event type does: one handler per type we act on, in one table."""

from collections.abc import Callable
from typing import Any

from handshake import services as handshake_services
from sync import inbound, mirror
from webhooks.models import WebhookEvent


def _patient_object(event: WebhookEvent) -> dict[str, Any]:
    obj = event.payload.get("object")
    if not isinstance(obj, dict):
        raise mirror.MirrorError("The event carries no patient object.")
    return obj


def _patient_handler(kind: str) -> Callable[[WebhookEvent], None]:
    def handle(event: WebhookEvent) -> None:
        result = mirror.patient_apply(
            practice=event.practice,
            data=_patient_object(event),
            kind=kind,
            occurred_at=event.hint_created_at,
        )
        if result.changed:
            inbound.patient_changed(patient=result.patient, created=result.created)

    handle.__name__ = f"patient_{kind}"
    return handle


def _installation_handler(status: str) -> Callable[[WebhookEvent], None]:
    def handle(event: WebhookEvent) -> None:
        # A practice that becomes connected gets its first patient pull from the connected hook
        # (settings.HINT_PRACTICE_CONNECTED_HOOKS), the one place that starts it.
        handshake_services.practice_installation_event(practice=event.practice, status=status)

    handle.__name__ = f"installation_{status}"
    return handle


HANDLERS: dict[str, Callable[[WebhookEvent], None]] = {
    "patient.created": _patient_handler(mirror.UPSERT),
    "patient.updated": _patient_handler(mirror.UPSERT),
    "patient.destroyed": _patient_handler(mirror.DESTROYED),
    "patient.inactive": _patient_handler(mirror.INACTIVE),
    "integration.activated": _installation_handler("active"),
    "integration.deactivated": _installation_handler("deactivated"),
}
# Events about the installation itself count even while the practice is not connected (an
# activation is what connects it); patient events only while it is.
INSTALLATION_TYPES = frozenset({"integration.activated", "integration.deactivated"})
