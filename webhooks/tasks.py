"""Background work for webhooks: process stored events."""

from django_tasks import task

from webhooks import services
from webhooks.models import WebhookEvent


@task()
def webhook_event_process(event_pk: int) -> str:
    """Dispatch one stored event to its handler (idempotent, safe to run twice)."""
    event = WebhookEvent.objects.filter(pk=event_pk).first()
    if event is None:
        return "missing"
    return services.event_process(event=event)


@task()
def webhook_events_process(event_pks: list[int]) -> dict[str, int]:
    """Process a batch the dispatcher queued, renewing the events' lease while it works."""
    return services.events_process_leased(event_pks=event_pks)
