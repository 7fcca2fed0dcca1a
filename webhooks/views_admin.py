"""The webhook admin pages of the settings surface: the panel, Hint's side of the endpoint, the
events list and detail (`view_settings`); replay and register again (`administer`)."""

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from handshake.audit import Actor
from handshake.decorators import HintRequest, hint_session
from handshake.links import redirect_with_session, url_with_session
from hintpartner.hint import errors, policy
from webhooks import inbox, registration, services
from webhooks.models import WebhookEvent, WebhookEventQuerySet

PAGE_SIZE = 25


def _events(request: HintRequest) -> WebhookEventQuerySet:
    return WebhookEvent.objects.for_practice(request.hint.practice)


@require_GET
@hint_session(permission="view_settings")
def webhooks_panel(request: HintRequest) -> HttpResponse:
    """Settings panel: how the inbox is doing, in one glance. What arrived and the worker has
    not sorted yet counts as waiting too (a stopped worker shows as a growing count)."""
    events = _events(request)
    received = inbox.received_for(practice=request.hint.practice)
    arrivals = [
        rows.order_by("-received_at").values_list("received_at", flat=True).first()
        for rows in (events, received)
    ]
    context = {
        "failed": events.failed().count(),
        "waiting": events.filter(status=WebhookEvent.Status.PENDING).count() + received.count(),
        "last_received_at": max((at for at in arrivals if at is not None), default=None),
        "by_type": registration.last_events_by_type(practice=request.hint.practice),
    }
    return render(request, "webhooks/_panel.html", context)


@require_GET
@hint_session(permission="view_settings")
def hint_page(request: HintRequest) -> HttpResponse:
    """Hint's side, read live with the partner key: the endpoint it posts to (ours or not) and
    the deliveries that failed. The panel loads it by htmx, after its own part."""
    registered = request.GET.get("registered", "")
    context = {
        "side": registration.hint_side_read(practice=request.hint.practice),
        "registered": registered if registered in ("new", "same") else "",
    }
    template = "webhooks/_hint.html" if request.htmx else "webhooks/hint.html"
    return render(request, template, context)


@require_POST
@hint_session(permission="administer")
def endpoint_register(request: HintRequest) -> HttpResponse:
    """Register this deployment's endpoint with Hint again (nothing is sent when Hint already
    posts there)."""
    try:
        result = registration.webhook_endpoint_register(
            practice=request.hint.practice, actor=Actor.from_hint(request.hint)
        )
    except errors.HintError as exc:
        # 503: Hint did not answer (try again later); 502: Hint answered with a refusal.
        sentence = policy.error_sentence(exc, record="webhook endpoint", partner_key=True)
        return _register_failed(request, sentence, status=503 if exc.transient else 502)
    except registration.RegistrationRefused:
        sentence = (
            "This app's own address is not set up, so there is nothing to register; the app's "
            "developer must set it."
        )
        return _register_failed(request, sentence, status=503)
    response = redirect_with_session(request, "webhooks:hint")
    response["Location"] += "&registered=" + ("new" if result.created else "same")
    return response


@require_GET
@hint_session(permission="view_settings")
def events_page(request: HintRequest) -> HttpResponse:
    """Every event of the practice, newest first, filtered by status and type."""
    events = _events(request).only(
        "pk", "type", "status", "note", "error", "attempts", "received_at", "next_attempt_at"
    )
    status = request.GET.get("status", "")
    event_type = request.GET.get("type", "")[:100]
    if status in WebhookEvent.Status.values:
        events = events.filter(status=status)
    else:
        status = ""
    if event_type:
        events = events.filter(type=event_type)
    page = Paginator(events.order_by("-received_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    types = _events(request).order_by("type").values_list("type", flat=True).distinct()[:100]
    key = request.hint.session_key

    def page_url(number: int) -> str:
        return url_with_session(request.path, key, status=status, type=event_type, page=number)

    context = {
        "page": page,
        "status": status,
        "event_type": event_type,
        "statuses": WebhookEvent.Status.choices,
        "types": list(types),
        "previous_url": page_url(page.previous_page_number()) if page.has_previous() else "",
        "next_url": page_url(page.next_page_number()) if page.has_next() else "",
        "failed": _events(request).failed().count(),
        "replayed": request.GET.get("replayed", ""),
    }
    template = "webhooks/_events.html" if request.htmx else "webhooks/events.html"
    return render(request, template, context)


@require_GET
@hint_session(permission="view_settings")
def event_page(request: HintRequest, pk: int) -> HttpResponse:
    """One event: what it was about, what happened, and the last error."""
    event = get_object_or_404(_events(request), pk=pk)
    obj = event.payload.get("object") if isinstance(event.payload, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    about = " ".join(str(obj.get(k) or "") for k in ("first_name", "last_name")).strip()
    context = {
        "event": event,
        "about": about or str(obj.get("name") or ""),
        "replayable": event.status in (WebhookEvent.Status.FAILED, WebhookEvent.Status.PENDING),
        "max_attempts": services.MAX_ATTEMPTS,
    }
    return render(request, "webhooks/event.html", context)


@require_POST
@hint_session(permission="administer")
def event_replay(request: HintRequest, pk: int) -> HttpResponse:
    """Queue one failed event again."""
    event = get_object_or_404(_events(request), pk=pk)
    services.event_replay(event=event, actor=Actor.from_hint(request.hint))
    return redirect_with_session(request, "webhooks:event", pk=event.pk)


@require_POST
@hint_session(permission="administer")
def events_replay_failed(request: HintRequest) -> HttpResponse:
    """Queue every failed event of the practice again."""
    count = services.events_replay(
        practice=request.hint.practice, actor=Actor.from_hint(request.hint)
    )
    response = redirect_with_session(request, "webhooks:events")
    response["Location"] += f"&replayed={count}"
    return response


def _register_failed(request: HintRequest, sentence: str, *, status: int) -> HttpResponse:
    """The delivery page with why nothing was registered; Hint is not asked again here."""
    context = {"side": None, "expected_url": registration.webhook_url(), "register_error": sentence}
    return render(request, "webhooks/hint.html", context, status=status)
