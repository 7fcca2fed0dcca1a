"""Background work for webhooks: process one stored event."""

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
