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
    """Process a batch the dispatcher queued, in arrival order; one failure never stops the rest
    (it is recorded on its event and retried on its own)."""
    outcome: dict[str, int] = {}
    for event in WebhookEvent.objects.filter(pk__in=event_pks).order_by("pk").iterator():
        status = services.event_process(event=event)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome
