"""Webhook delivery: a loop inside `runsandbox` posts due events, signed, and retries failures.

A delivery counts when the endpoint answers 2xx within SANDBOX_WEBHOOK_TIMEOUT seconds; anything
else is retried after base * 2**attempt seconds (capped) until SANDBOX_WEBHOOK_MAX_ATTEMPTS.
Switches on the host page send each event twice, or gather events until 2 s pass without a new
one and send them newest first.
"""

import json
import logging
import threading
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from hintpartner.hint import signing
from sandbox.models import Config, DeliveryAttempt, WebhookEndpoint, WebhookEvent

logger = logging.getLogger("sandbox.delivery")
OUT_OF_ORDER_HOLD_SECONDS = 2.0
OUT_OF_ORDER_MAX_WAIT_SECONDS = 10.0


def endpoint_url(config: Config) -> str:
    """The registered endpoint (newest), else the app's default `/hint/webhooks`."""
    endpoint = WebhookEndpoint.objects.order_by("-created_at", "-id").first()
    return endpoint.webhook_url if endpoint else f"{config.app_url}/hint/webhooks"


def _post(event: WebhookEvent, url: str) -> DeliveryAttempt:
    body = json.dumps(event.body).encode()
    headers = {
        "Content-Type": "application/json",
        signing.SIGNATURE_HEADER: signing.sign(body, settings.HINT_WEBHOOK_SECRET),
        "User-Agent": "Hint-Sandbox-Webhooks/1.0",
    }
    started = time.monotonic()
    attempt = DeliveryAttempt(event=event, url=url)
    try:
        # A fresh connection per delivery: simple, and no keep-alive stalls against runserver.
        response = requests.post(
            url, data=body, headers=headers, timeout=settings.SANDBOX_WEBHOOK_TIMEOUT
        )
        attempt.status_code = response.status_code
    except requests.Timeout:
        attempt.error = f"no answer within {settings.SANDBOX_WEBHOOK_TIMEOUT:g} s"
    except requests.RequestException:
        attempt.error = "could not connect"
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.save()
    return attempt


def event_deliver(event: WebhookEvent, *, config: Config) -> DeliveryAttempt:
    """One attempt (two when the duplicates switch is on); reschedules or closes the event."""
    url = endpoint_url(config)
    attempt = _post(event, url)
    if attempt.ok and config.webhook_duplicates:
        _post(event, url)  # Hint may deliver an event twice; the app must not act twice
    event.attempts += 1
    now = timezone.now()
    if attempt.ok:
        event.status = WebhookEvent.Status.DELIVERED
        event.delivered_at = now
        event.note = ""
    elif event.attempts >= settings.SANDBOX_WEBHOOK_MAX_ATTEMPTS:
        event.status = WebhookEvent.Status.FAILED
        event.note = f"Gave up after {event.attempts} attempts."
    else:
        delay = min(
            settings.SANDBOX_WEBHOOK_BACKOFF * 2 ** (event.attempts - 1),
            settings.SANDBOX_WEBHOOK_BACKOFF_MAX,
        )
        event.next_attempt_at = now + timedelta(seconds=delay)
        event.note = f"Retry {event.attempts + 1} in {delay:g} s."
    event.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at", "note"])
    return attempt


def event_resend(*, event: WebhookEvent) -> None:
    """Queue the event again now (the deliveries page's "Resend")."""
    event.status = WebhookEvent.Status.PENDING
    event.next_attempt_at = timezone.now()
    event.note = "Resend requested."
    event.save(update_fields=["status", "next_attempt_at", "note"])


def deliver_due(limit: int = 50) -> int:
    """Deliver the events that are due; returns how many were attempted."""
    config = Config.get()
    now = timezone.now()
    qs = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
    if config.webhook_out_of_order:
        # Let events gather until none has arrived for a moment (or the oldest has waited long
        # enough), then send the newest first.
        newest = qs.order_by("-created_at").values_list("created_at", flat=True).first()
        oldest = qs.order_by("created_at").values_list("created_at", flat=True).first()
        if newest is None:
            return 0
        quiet = now - newest >= timedelta(seconds=OUT_OF_ORDER_HOLD_SECONDS)
        overdue = now - oldest >= timedelta(seconds=OUT_OF_ORDER_MAX_WAIT_SECONDS)
        if not (quiet or overdue):
            return 0
        events = list(qs.order_by("-created_at", "-id")[:limit])
    else:
        events = list(qs.order_by("created_at", "id")[:limit])
    for event in events:
        event_deliver(event, config=config)
    return len(events)


def run_forever(stop: threading.Event, interval: float = 0.25) -> None:
    """The loop `runsandbox` starts in a daemon thread."""
    while not stop.is_set():
        try:
            delivered = deliver_due()
        except Exception:  # keep delivering whatever one event did
            logger.exception("webhook delivery loop failed; continuing")
            delivered = 0
        finally:
            close_old_connections()
        if not delivered:
            stop.wait(interval)
