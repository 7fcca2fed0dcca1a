"""Hint's Partner API (partner key) and Provider API (practice or session tokens), imitated.

Errors use Hint's body `{"status": …, "message": …}`. The Provider API rejects the partner key
with 428, unknown or revoked tokens with 401, answers 429 with `Retry-After` above the per-token
rate, and applies the injected faults set on the host page (or `SANDBOX_FAULT_*`).
"""

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import contract, limits, patients
from sandbox.models import (
    Anchor,
    DeliveryAttempt,
    Installation,
    Interaction,
    PartnerAccount,
    PartnerApp,
    Practice,
    WebhookEndpoint,
    new_id,
)
from sandbox.services import (
    WEBHOOK_EVENT_TYPES,
    SandboxError,
    installation_activate,
    installation_connect,
    installation_deactivate,
    installation_json,
    interaction_json,
    patient_delete,
    patient_json,
    token_resolve,
)

logger = logging.getLogger("sandbox.api")
MARKETPLACE_HEADER = "HTTP_HINT_VERSION"

View = Callable[..., HttpResponse]


def error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"status": status, "message": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def listing(items: list[dict[str, Any]], total: int) -> JsonResponse:
    """Hint's list shape: a bare array, counts in headers."""
    response = JsonResponse(items, safe=False)
    response["X-Count"] = str(len(items))
    response["X-Total-Count"] = str(total)
    return response


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _body(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise SandboxError(400, "The body is not valid JSON") from exc


def _strict() -> bool:
    return limits.config_cached().strict


def _query(request: HttpRequest, known: frozenset[str]) -> None:
    contract.unknown_names(request.GET, known, strict=_strict(), what="query parameter")


def _patient_body(request: HttpRequest, known: frozenset[str]) -> dict[str, Any]:
    """The body checked against `known`; street lines are accepted under the names the sandbox
    answers with (`Config.address_shape`) and stored under the description's."""
    shape = limits.config_cached().address_shape
    if known is contract.PATIENT_BODY_FIELDS:
        known = contract.patient_body_fields(shape)
    data = patients.body_check(_body(request), known, strict=_strict())
    theirs = contract.ADDRESS_SHAPES.get(shape)
    if theirs and theirs != contract.ADDRESS_SHAPES["address_line1"]:
        for mine, their in zip(contract.ADDRESS_SHAPES["address_line1"], theirs, strict=True):
            if their in data:
                data[mine] = data.pop(their)
            elif not _strict():  # lenient: Hint ignores a name it does not know
                data.pop(mine, None)
    return data


def _methods(request: HttpRequest, allowed: tuple[str, ...]) -> None:
    if request.method not in allowed:
        raise SandboxError(405, f"{request.method} is not allowed here")


def provider_api(view: View) -> View:
    """Token → practice, rate limit, faults, Hint's errors."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        config = limits.config_cached()
        raw = _bearer(request)
        wait = limits.rate_limit_wait(
            raw or request.META.get("REMOTE_ADDR", ""), config.rate_limit_per_second
        )
        if wait:
            return error(429, "Too many requests", Retry_After=limits.retry_after_header(wait))
        if config.fault_latency_ms:
            time.sleep(config.fault_latency_ms / 1000)
        if limits.roll(config.fault_error_rate):
            return error(500, "Internal server error (injected by the sandbox)")
        if limits.roll(config.fault_timeout_rate):
            # Never applied: the client times out and may safely retry.
            time.sleep(config.fault_slow_seconds)
            return error(504, "Gateway timeout (injected by the sandbox)")
        try:
            token = token_resolve(raw)
            response = view(request, token.practice, *args, **kwargs)
        except SandboxError as exc:
            return error(exc.status, exc.message)
        if request.method != "GET" and limits.roll(config.fault_late_success_rate):
            # Applied, but the answer comes after the client gave up.
            time.sleep(config.fault_slow_seconds)
        return response

    return wrapper


def partner_api(view: View) -> View:
    """The partner key only. `Hint-Version: marketplace_endpoints` is expected on installation
    and webhook-endpoint routes; the sandbox accepts a request without it and says so in a
    `X-Sandbox-Warning` header (Hint may refuse it)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        config = limits.config_cached()
        raw = _bearer(request)
        wait = limits.rate_limit_wait(raw or "anonymous", config.rate_limit_per_second)
        if wait:
            return error(429, "Too many requests", Retry_After=limits.retry_after_header(wait))
        if not raw or not settings.HINT_API_KEY or raw != settings.HINT_API_KEY:
            return error(401, "Unauthorized")
        try:
            response = view(request, *args, **kwargs)
        except SandboxError as exc:
            response = error(exc.status, exc.message)
        marketplace = request.path.startswith(
            ("/api/partner/installations", "/api/partner/webhook_endpoints")
        )
        if marketplace and request.META.get(MARKETPLACE_HEADER) != "marketplace_endpoints":
            response["X-Sandbox-Warning"] = "missing Hint-Version: marketplace_endpoints"
        return response

    return wrapper


def _public_url() -> str:
    return limits.config_cached().public_url


# --- Provider API -----------------------------------------------------------------------------


@provider_api
def patients_view(request: HttpRequest, practice: Practice) -> HttpResponse:
    _methods(request, ("GET", "POST"))
    if request.method == "POST":
        data = _patient_body(request, contract.PATIENT_BODY_FIELDS)
        patient = patients.patient_create(practice=practice, data=data, from_api=True)
        return JsonResponse(patient_json(patient, public_url=_public_url()), status=201)
    _query(request, contract.PATIENT_LIST_PARAMS)
    rows, total = patients.page(request.GET, patients.patients_filter(practice, request.GET))
    url = _public_url()
    return listing([patient_json(p, public_url=url) for p in rows], total)


@provider_api
def patient_view(request: HttpRequest, practice: Practice, patient_id: str) -> HttpResponse:
    _methods(request, ("GET", "PATCH", "PUT", "DELETE"))
    patient = patients.patient_lookup(practice, patient_id)
    if request.method in ("PATCH", "PUT"):
        data = _patient_body(request, contract.PATIENT_BODY_FIELDS)
        patient = patients.patient_update(patient=patient, data=data, from_api=True)
    elif request.method == "DELETE":
        data = patient_json(patient, public_url=_public_url())
        patient_delete(patient=patient, from_api=True)
        return JsonResponse(data)
    return JsonResponse(patient_json(patient, public_url=_public_url()))


@provider_api
def patients_matching_view(request: HttpRequest, practice: Practice) -> HttpResponse:
    _methods(request, ("POST",))
    data = _patient_body(request, contract.MATCHING_BODY_FIELDS)
    found = patients.patients_matching(practice=practice, data=data)
    url = _public_url()
    return listing([patient_json(p, public_url=url) for p in found], len(found))


def _interaction_fields(interaction: Interaction, data: Any, *, creating: bool) -> None:
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    contract.unknown_names(data, contract.INTERACTION_BODY_FIELDS, strict=_strict(), what="field")
    status = data.get("status")
    # The description requires `status` on create and update alike (strict mode).
    if creating or "status" in data or _strict():
        if status not in contract.INTERACTION_STATUSES:
            raise SandboxError(422, "Validation failed: Status is not included in the list")
        interaction.status = status
    for name in ("title", "integration_record_id", "integration_web_link"):
        if name in data:
            setattr(interaction, name, str(data[name] or "")[:500])
    if "integration_error_message" in data:
        interaction.integration_error_message = str(data["integration_error_message"] or "")
    product = data.get("partner_product_id")
    if product:
        if product != settings.HINT_PRODUCT_ID:
            raise SandboxError(400, "This practice has not installed that product")
        interaction.partner_product_id = product


@provider_api
def interaction_create_view(
    request: HttpRequest, practice: Practice, patient_id: str
) -> HttpResponse:
    _methods(request, ("POST",))
    patient = patients.patient_lookup(practice, patient_id)
    interaction = Interaction(practice=practice, patient=patient, hint_id=new_id("inter"))
    _interaction_fields(interaction, _body(request), creating=True)
    interaction.save()
    return JsonResponse(interaction_json(interaction), status=201)


@provider_api
def interaction_update_view(
    request: HttpRequest, practice: Practice, patient_id: str, interaction_id: str
) -> HttpResponse:
    _methods(request, ("PATCH", "PUT"))
    patient = patients.patient_lookup(practice, patient_id)
    interaction = Interaction.objects.filter(
        practice=practice, patient=patient, hint_id=interaction_id
    ).first()
    if interaction is None:
        raise SandboxError(404, "Interaction not found")
    _interaction_fields(interaction, _body(request), creating=False)
    interaction.updated_at = timezone.now()
    interaction.save()
    return JsonResponse(interaction_json(interaction))


@provider_api
def interactions_view(request: HttpRequest, practice: Practice) -> HttpResponse:
    _methods(request, ("GET",))
    _query(request, contract.INTERACTION_LIST_PARAMS)
    qs = Interaction.objects.filter(practice=practice).select_related("patient")
    kind = request.GET.get("type")
    if kind and kind != "partner":
        return listing([], 0)  # the sandbox keeps partner interactions only
    if request.GET.get("patient_id"):
        patient = patients.patient_lookup(practice, request.GET["patient_id"])
        qs = qs.filter(patient=patient)
    if request.GET.get("integration_record_id"):
        qs = qs.filter(integration_record_id=request.GET["integration_record_id"])
    qs = qs.filter(patients._time_filters(request.GET, "updated_at"))
    rows, total = patients.page(request.GET, qs)
    return listing([interaction_json(i) for i in rows], total)


# --- Partner API ------------------------------------------------------------------------------


def _installation(installation_id: str) -> Installation:
    installation = (
        Installation.objects.select_related("practice").filter(hint_id=installation_id).first()
    )
    if installation is None:
        raise SandboxError(404, "Installation not found")
    return installation


@partner_api
def installations_connect_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("POST",))
    data = _body(request)
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    activate = data.get("activate")
    installation = installation_connect(
        code=str(data.get("code") or ""), activate=activate if isinstance(activate, bool) else None
    )
    return JsonResponse(installation_json(installation))


@partner_api
def oauth_tokens_view(request: HttpRequest) -> HttpResponse:
    """The older documented exchange: `{"grant_type": "authorization_code", "code": …}`."""
    _methods(request, ("POST",))
    data = _body(request)
    if not isinstance(data, dict) or data.get("grant_type", "authorization_code") != (
        "authorization_code"
    ):
        raise SandboxError(422, "grant_type must be authorization_code")
    installation = installation_connect(code=str(data.get("code") or ""), activate=None)
    body = installation_json(installation)
    if installation.status == Installation.Status.ACTIVE:
        body["status"] = "connected"
    body["access_token"] = body["api_keys"][0]["token"] if body["api_keys"] else ""
    return JsonResponse(body)


@partner_api
def installations_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("GET",))
    contract.unknown_names(
        request.GET, contract.INSTALLATION_LIST_PARAMS, strict=_strict(), what="query parameter"
    )
    qs = Installation.objects.select_related("practice").order_by("created_at", "id")
    status = request.GET.get("status")
    if status:
        qs = qs.filter(status=status)
    rows, total = patients.page(request.GET, qs)
    return listing([installation_json(i) for i in rows], total)


@partner_api
def installation_activate_view(request: HttpRequest, installation_id: str) -> HttpResponse:
    _methods(request, ("POST",))
    installation = installation_activate(installation=_installation(installation_id))
    return JsonResponse(installation_json(installation))


@partner_api
def installation_deactivate_view(request: HttpRequest, installation_id: str) -> HttpResponse:
    _methods(request, ("POST",))
    installation = installation_deactivate(installation=_installation(installation_id))
    return JsonResponse(installation_json(installation))


def _endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.hint_id,
        "webhook_url": endpoint.webhook_url,
        "created_at": endpoint.created_at.isoformat(),
    }


@partner_api
def webhook_endpoints_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("GET", "POST"))
    if request.method == "POST":
        data = _body(request)
        url = str(data.get("webhook_url") or "") if isinstance(data, dict) else ""
        if not url.startswith(("http://", "https://")):
            raise SandboxError(422, "Validation failed: Webhook url is invalid")
        endpoint = WebhookEndpoint.objects.create(hint_id=new_id("whe"), webhook_url=url)
        return JsonResponse(_endpoint_json(endpoint), status=201)
    rows = list(WebhookEndpoint.objects.order_by("-created_at", "-id"))
    return listing([_endpoint_json(e) for e in rows], len(rows))


@partner_api
def webhook_events_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("GET",))
    return listing([{"type": t} for t in WEBHOOK_EVENT_TYPES], len(WEBHOOK_EVENT_TYPES))


@partner_api
def webhook_requests_view(request: HttpRequest) -> HttpResponse:
    """Failed deliveries (every attempt not answered 2xx), newest first, each naming the event's
    practice: Hint documents the route, not its fields, so the app reads these names or others."""
    _methods(request, ("GET",))
    qs = DeliveryAttempt.objects.select_related("event__practice").exclude(
        status_code__gte=200, status_code__lt=300
    )
    rows = list(qs.order_by("-created_at", "-id")[:100])
    items = [
        {
            "event_id": a.event.hint_id,
            "type": a.event.type,
            "practice_id": a.event.practice.hint_id,
            "url": a.url,
            "status": a.status_code,
            "error": a.error or None,
            "created_at": a.created_at.isoformat(),
        }
        for a in rows
    ]
    return listing(items, len(items))


# --- Partner API: the app's registration ("Registering the app with Hint") --------------------


def _wrapped(request: HttpRequest, wrapper: str, known: frozenset[str]) -> dict[str, Any]:
    """`{"<wrapper>": {…}}` with only the fields Hint names (strict mode), string values."""
    data = _body(request)
    inner = data.get(wrapper) if isinstance(data, dict) else None
    if not isinstance(inner, dict):
        raise SandboxError(422, f'The body must be {{"{wrapper}": {{…}}}}')
    contract.unknown_names(inner, known, strict=_strict(), what="field")
    fields = {k: v for k, v in inner.items() if k in known}
    for name, value in fields.items():
        if name != "role_mappings" and not isinstance(value, str):
            raise SandboxError(422, f"Validation failed: {name} must be a string")
    return fields


def _url_check(name: str, value: str) -> None:
    """A registered URL is an http(s) URL. Hint wants https outside the `localhost_*` fields;
    the sandbox, on loopback beside a laptop's app, accepts http in both (hint_doctor reports
    an http production URL)."""
    if value and not value.startswith(("http://", "https://")):
        raise SandboxError(422, f"Validation failed: {name} is not a URL")


def _partner_json(partner: PartnerAccount) -> dict[str, Any]:
    return {
        "partner": {
            "id": settings.HINT_PARTNER_ID,
            "name": partner.name,
            "email": partner.email,
            "auth_type": partner.auth_type or None,
            "redirect_url": partner.redirect_url or None,
            "localhost_redirect_url": partner.localhost_redirect_url or None,
            "localhost_webhook_url": partner.localhost_webhook_url or None,
        }
    }


def _app_json(app: PartnerApp) -> dict[str, Any]:
    return {
        "app": {
            "id": settings.HINT_PRODUCT_ID,
            "name": app.name,
            "handshake_url": app.handshake_url or None,
            "localhost_handshake_url": app.localhost_handshake_url or None,
            "role_mappings": app.role_mappings,
        }
    }


def _anchor_json(anchor: Anchor) -> dict[str, Any]:
    return {
        "id": anchor.hint_id,
        "type": anchor.type,
        "source_url": anchor.source_url or None,
        "localhost_source_url": anchor.localhost_source_url or None,
        "settings_label": anchor.settings_label or None,
        "interaction_type": anchor.interaction_type or None,
    }


@partner_api
def partner_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("GET", "PATCH", "PUT"))
    partner = PartnerAccount.get()
    if request.method != "GET":
        fields = _wrapped(request, "partner", contract.PARTNER_BODY_FIELDS)
        auth_type = fields.get("auth_type")
        if auth_type is not None and auth_type not in contract.AUTH_TYPES:
            raise SandboxError(422, "Validation failed: Auth type is not included in the list")
        for name, value in fields.items():
            if name.endswith("_url"):
                _url_check(name, value)
            setattr(partner, name, value)
        partner.updated_at = timezone.now()
        partner.save()
    return JsonResponse(_partner_json(partner))


@partner_api
def app_view(request: HttpRequest) -> HttpResponse:
    _methods(request, ("GET", "PATCH", "PUT"))
    app = PartnerApp.get()
    if request.method != "GET":
        fields = _wrapped(request, "app", contract.APP_BODY_FIELDS)
        for name, value in fields.items():
            if name.endswith("_url"):
                _url_check(name, value)
            setattr(app, name, value)
        app.updated_at = timezone.now()
        app.save()
    return JsonResponse(_app_json(app))


def _anchor_fields(anchor: Anchor, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "type":
            continue
        if name.endswith("_url"):
            _url_check(name, value)
        setattr(anchor, name, value)


@partner_api
def anchors_view(request: HttpRequest) -> HttpResponse:
    """GET: a bare array. POST: one anchor per surface type, so a second POST for a type
    updates that anchor (answered 200, a new one 201): re-running a set-up is harmless."""
    _methods(request, ("GET", "POST"))
    if request.method == "POST":
        fields = _wrapped(request, "anchor", contract.ANCHOR_BODY_FIELDS)
        kind = fields.get("type")
        if kind not in contract.ANCHOR_TYPES:
            raise SandboxError(422, "Validation failed: Type is not included in the list")
        anchor = Anchor.objects.filter(type=kind).first()
        created = anchor is None
        if anchor is None:
            anchor = Anchor(type=kind, hint_id=new_id("anc"))
        _anchor_fields(anchor, fields)
        anchor.save()
        return JsonResponse(_anchor_json(anchor), status=201 if created else 200)
    rows = list(Anchor.objects.all())
    return listing([_anchor_json(a) for a in rows], len(rows))


@partner_api
def anchor_view(request: HttpRequest, anchor_id: str) -> HttpResponse:
    _methods(request, ("GET", "PATCH", "PUT"))
    anchor = Anchor.objects.filter(hint_id=anchor_id).first()
    if anchor is None:
        raise SandboxError(404, "Anchor not found")
    if request.method != "GET":
        fields = _wrapped(request, "anchor", contract.ANCHOR_BODY_FIELDS)
        if fields.get("type", anchor.type) != anchor.type:
            raise SandboxError(422, "Validation failed: Type cannot change")
        _anchor_fields(anchor, fields)
        anchor.save()
    return JsonResponse(_anchor_json(anchor))


@partner_api
def services_view(request: HttpRequest) -> HttpResponse:
    """Hint-hosted deployments: none in the sandbox (the app runs beside it)."""
    _methods(request, ("GET",))
    return listing([], 0)


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error(404, "Not found")
