"""The Activity page's words and links for webhook events (settings.AUDIT_TARGETS)."""

from typing import Any

from django.urls import reverse

from webhooks.models import WebhookEvent


def events_describe(*, practice: Any, ids: list[str]) -> dict[str, tuple[str, str]]:
    """Webhook events by primary key."""
    pks = [int(i) for i in ids if i.isdigit()]
    events = WebhookEvent.objects.for_practice(practice).filter(pk__in=pks).only("pk", "type")
    return {
        str(e.pk): (f"Hint event {e.type}", reverse("webhooks:event", args=[e.pk])) for e in events
    }
