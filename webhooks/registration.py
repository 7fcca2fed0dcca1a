"""The webhook endpoint as Hint holds it: is it this deployment's, which deliveries failed, and
registering it (again).

Hint keeps one endpoint per partner, for every practice, and lists failed deliveries
partner-wide. A practice is shown only the deliveries Hint names it in, plus those that name no
practice at all (said as such on the page); deliveries naming another practice are counted,
never shown.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.urls import reverse

from handshake.audit import Actor, audit_record
from handshake.models import Practice
from hintpartner.hint import api, errors, policy
from hintpartner.hint.decode import parse_time
from webhooks.models import WebhookEvent

logger = logging.getLogger("webhooks.registration")

DELIVERIES_SHOWN = 20
EVENT_TYPES_SHOWN = 50
# Hint documents `GET /api/partner/webhook_requests` but not its fields: each is read under
# any of these names (first found wins), and a nested event or request body is looked into.
_TIME = ("created_at", "requested_at", "attempted_at", "sent_at", "timestamp")
_TYPE = ("event_type", "type")
_STATUS = ("status", "status_code", "response_status", "response_code")
_ERROR = ("error", "error_message", "failure_reason", "message", "response_body")
_BODY = ("body", "payload", "request_body")


class RegistrationRefused(ValueError):
    """The URL to register is not an http(s) URL; nothing was sent to Hint."""


def webhook_url() -> str:
    """This deployment's receiver, as Hint must hold it: `APP_URL` + `/hint/webhooks`."""
    return settings.APP_URL + reverse("webhooks:receive")


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/") == b.strip().rstrip("/")


def endpoint_current(endpoints: list[dict[str, Any]]) -> str:
    """The URL Hint posts to: the newest endpoint when every one states `created_at`, else the
    first listed (the sandbox, like Hint's other lists, lists newest first)."""
    listed = [(api.webhook_endpoint_url(e), parse_time(e.get("created_at"))) for e in endpoints]
    listed = [(url, at) for url, at in listed if url]
    if not listed:
        return ""
    dated = [(at, url) for url, at in listed if at is not None]
    return max(dated)[1] if len(dated) == len(listed) else listed[0][0]


# --- failed deliveries ------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedDelivery:
    """One delivery Hint could not make, as far as Hint's answer says."""

    at: datetime | None
    event_type: str
    status: int | None
    error: str
    practice_id: str  # "" when Hint's answer names no practice

    @property
    def what(self) -> str:
        """What went wrong, in a few words ("our app answered 500", "no answer within 10 s")."""
        if self.error and self.status:
            return f"answered {self.status}: {self.error}"
        if self.status:
            return f"answered {self.status}"
        return self.error or "no reason given"


def _first(item: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((item[n] for n in names if item.get(n) not in (None, "")), None)


def _nested(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a delivery may carry the event in: `event`, or a (JSON) request body."""
    found = []
    for name in ("event", "webhook_event", *_BODY):
        value = item.get(name)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _practice_id(item: dict[str, Any]) -> str:
    for source in (item, *_nested(item)):
        value = source.get("practice_id")
        practice = source.get("practice")
        if not value and isinstance(practice, dict):
            value = practice.get("id")
        if value:
            return str(value)
    return ""


def _status(value: Any) -> int | None:
    try:
        status = int(value)
    except (TypeError, ValueError):
        return None
    return status if 100 <= status <= 599 else None


def delivery_from_hint(item: dict[str, Any]) -> FailedDelivery:
    """Read one item of Hint's failed-delivery list, whichever names it uses."""
    types = [_first(source, _TYPE) for source in (item, *_nested(item))]
    event_type = next((t for t in types if isinstance(t, str)), "")
    error = _first(item, _ERROR)
    return FailedDelivery(
        at=parse_time(_first(item, _TIME)),
        event_type=event_type[:100],
        status=_status(_first(item, _STATUS)),
        error=str(error)[:200] if isinstance(error, str | int | float) else "",
        practice_id=_practice_id(item),
    )


# --- what the panel shows -----------------------------------------------------------------------


@dataclass
class HintSide:
    """Hint's partner-wide view of our webhooks, narrowed to one practice's deliveries."""

    expected_url: str
    endpoint_url: str = ""
    endpoint_error: str = ""
    deliveries: list[FailedDelivery] = field(default_factory=list)
    deliveries_error: str = ""
    # Deliveries Hint names another practice in: counted, never shown.
    other_practices: int = 0

    @property
    def matches(self) -> bool:
        return bool(self.endpoint_url) and _same_url(self.endpoint_url, self.expected_url)

    @property
    def unattributed(self) -> bool:
        """Some deliveries shown name no practice (they may be another practice's)."""
        return any(not d.practice_id for d in self.deliveries)


def _sentence(exc: errors.HintError, record: str) -> str:
    logger.warning("webhooks: reading %s from Hint failed: %s", record, exc)
    return policy.error_sentence(exc, record=record, partner_key=True)


def hint_side_read(*, practice: Practice) -> HintSide:
    """Ask Hint (partner key) for the endpoint it holds and the deliveries that failed; a
    failure of either becomes a sentence, never an exception."""
    side = HintSide(expected_url=webhook_url())
    try:
        side.endpoint_url = endpoint_current(api.webhook_endpoints())
    except errors.HintError as exc:
        side.endpoint_error = _sentence(exc, "webhook endpoint")
    try:
        items = api.webhook_requests()
    except errors.HintError as exc:
        side.deliveries_error = _sentence(exc, "list of failed deliveries")
        return side
    deliveries = [delivery_from_hint(item) for item in items]
    mine = [d for d in deliveries if d.practice_id in ("", practice.hint_id)]
    side.other_practices = len(deliveries) - len(mine)
    mine.sort(key=lambda d: d.at.timestamp() if d.at else float("-inf"), reverse=True)
    side.deliveries = mine[:DELIVERIES_SHOWN]
    return side


def last_events_by_type(*, practice: Practice) -> list[dict[str, Any]]:
    """Per event type: when the practice last received one and how many it holds (one grouped
    query over the practice's events), most recent type first."""
    rows = (
        WebhookEvent.objects.for_practice(practice)
        .values("type")
        .annotate(last_received_at=Max("received_at"), count=Count("pk"))
        .order_by("-last_received_at", "type")
    )
    return list(rows[:EVENT_TYPES_SHOWN])


# --- registering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    url: str
    created: bool  # False: Hint already posted to this URL, so nothing was sent


def webhook_endpoint_register(
    *, url: str = "", practice: Practice | None = None, actor: Actor | None = None
) -> Registration:
    """Make Hint post to `url` (this deployment's receiver by default), idempotently: when
    Hint's current endpoint is that URL already, nothing is sent. Raises a HintError when Hint
    fails or refuses; audited in `practice` when an admin asked for it there."""
    url = (url or webhook_url()).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistrationRefused(f"The webhook URL must be an http(s) URL, got {url!r}.")
    try:
        current = endpoint_current(api.webhook_endpoints())
    except errors.HintNotFound:
        current = ""  # a Hint that cannot list endpoints still takes a registration
    created = not (current and _same_url(current, url))
    if created:
        api.webhook_endpoint_register(url=url)
    if practice is not None and actor is not None:
        with transaction.atomic():
            audit_record(
                practice=practice,
                actor=actor,
                action="webhook.registered",
                detail=f"{url} ({'registered' if created else 'already registered'})",
            )
    return Registration(url=url, created=created)
