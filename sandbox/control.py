"""A JSON control surface for tests and scripts (`/_sandbox/…`): what a person does on the host
page, without a browser. A local development tool: no authentication, loopback only."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox import contract, patients
from sandbox.models import (
    Anchor,
    Config,
    Interaction,
    PartnerAccount,
    PartnerApp,
    Patient,
    Practice,
    User,
    WebhookEndpoint,
    WebhookEvent,
)
from sandbox.services import (
    SandboxError,
    handshake_payload,
    handshake_send,
    installation_current,
    installation_deactivate,
    installation_post_code,
    installation_start,
    patient_deactivate,
    patient_delete,
)
from sandbox.views import config_update


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise SandboxError(400, "The body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise SandboxError(400, "The body must be a JSON object")
    return data


def _practice(hint_id: str) -> Practice:
    practice = Practice.objects.filter(hint_id=hint_id).first()
    if practice is None:
        raise SandboxError(404, f"No practice {hint_id!r} in the sandbox")
    return practice


def _refusal(exc: SandboxError) -> JsonResponse:
    return JsonResponse({"status": exc.status, "message": exc.message}, status=exc.status)


def _installation_state(practice: Practice) -> dict[str, Any] | None:
    installation = installation_current(practice)
    if installation is None:
        return None
    return {
        "id": installation.hint_id,
        "status": installation.status,
        "mode": installation.mode,
        "code_exchanged": installation.code_used_at is not None,
        "connect_result": installation.connect_result,
    }


@require_GET
def state(request: HttpRequest) -> JsonResponse:
    practices = [
        {
            "id": p.hint_id,
            "name": p.name,
            "patients": list(
                Patient.objects.filter(practice=p)
                .order_by("id")
                .values_list("hint_id", flat=True)[:5]
            ),
            "installation": _installation_state(p),
        }
        for p in Practice.objects.order_by("id")
    ]
    users = [
        {"id": u.hint_id, "roles": u.partner_roles, "access_context": u.access_context}
        for u in User.objects.all()
    ]
    config = Config.get()
    return JsonResponse({"practices": practices, "users": users, "app_url": config.app_url})


@csrf_exempt
@require_POST
def install(request: HttpRequest) -> JsonResponse:
    """`{"practice", "mode", "post_code": true}` → the installation and what the app answered."""
    try:
        data = _json(request)
        practice = _practice(str(data.get("practice", "")))
        installation = installation_start(practice=practice, mode=str(data.get("mode", "instant")))
    except SandboxError as exc:
        return _refusal(exc)
    result = ""
    if data.get("post_code", True):
        result = installation_post_code(installation=installation, app_url=Config.get().app_url)
    return JsonResponse(
        {
            "installation_id": installation.hint_id,
            "status": installation.status,
            "code": installation.code,
            "connect_result": result,
        },
        status=201,
    )


@csrf_exempt
@require_POST
def uninstall(request: HttpRequest) -> JsonResponse:
    try:
        practice = _practice(str(_json(request).get("practice", "")))
    except SandboxError as exc:
        return _refusal(exc)
    installation = installation_current(practice)
    if installation is not None:
        installation_deactivate(installation=installation)
    return JsonResponse({"uninstalled": installation is not None})


@csrf_exempt
@require_POST
def handshake(request: HttpRequest) -> JsonResponse:
    """`{"practice", "user", "surface", "patient_id"?, "interaction_id"?}` → `{"iframe_url"}`."""
    try:
        data = _json(request)
        practice = _practice(str(data.get("practice", "")))
        user = User.objects.filter(hint_id=str(data.get("user", ""))).first()
        if user is None:
            raise SandboxError(404, "No such user in the sandbox")
        patient = interaction = None
        if data.get("patient_id"):
            patient = patients.patient_lookup(practice, str(data["patient_id"]))
        if data.get("interaction_id"):
            interaction = Interaction.objects.filter(
                practice=practice, hint_id=str(data["interaction_id"])
            ).first()
            if interaction is None:
                raise SandboxError(404, "No such interaction in this practice")
        surface = str(data.get("surface", ""))
        payload = handshake_payload(
            practice=practice, user=user, surface=surface, patient=patient, interaction=interaction
        )
        url = handshake_send(app_url=Config.get().app_url, surface=surface, payload=payload)
    except SandboxError as exc:
        return _refusal(exc)
    return JsonResponse({"iframe_url": url})


@csrf_exempt
def faults(request: HttpRequest) -> JsonResponse:
    """GET the faults and switches; POST a JSON object to change some of them."""
    config = Config.get()
    if request.method == "POST":
        try:
            data = _json(request)
            _address_shape_set(config, data.pop("address_shape", None))
            errors = config_update(config, data)
        except SandboxError as exc:
            return _refusal(exc)
        if errors:
            return JsonResponse({"status": 422, "message": " ".join(errors)}, status=422)
    fields = [f.name for f in Config._meta.fields if f.name != "id"]
    return JsonResponse({name: getattr(config, name) for name in fields})


def _address_shape_set(config: Config, shape: Any) -> None:
    """The switch "patients answered with the other address shape" (`address_line_1`)."""
    if shape is None:
        return
    if shape not in contract.ADDRESS_SHAPE_NAMES:
        names = " or ".join(contract.ADDRESS_SHAPE_NAMES)
        raise SandboxError(422, f"address_shape must be {names}")
    config.address_shape = shape  # saved by config_update with the other switches


@require_GET
def registration(request: HttpRequest) -> JsonResponse:
    """What the partner API holds for the app (partner, app, anchors, webhook endpoints)."""
    partner, app = PartnerAccount.get(), PartnerApp.get()
    return JsonResponse(
        {
            "partner": {
                f: getattr(partner, f)
                for f in ("auth_type", "redirect_url", "localhost_redirect_url")
            },
            "app": {f: getattr(app, f) for f in ("handshake_url", "localhost_handshake_url")},
            "anchors": {
                a.type: {
                    "source_url": a.source_url,
                    "localhost_source_url": a.localhost_source_url,
                    "settings_label": a.settings_label,
                }
                for a in Anchor.objects.all()
            },
            "webhook_urls": list(
                WebhookEndpoint.objects.order_by("-created_at", "-id").values_list(
                    "webhook_url", flat=True
                )
            ),
        }
    )


@csrf_exempt
@require_POST
def trigger(request: HttpRequest) -> JsonResponse:
    """`{"practice", "kind": create|update|delete|deactivate, "patient_id"?, "fields"?}`."""
    try:
        data = _json(request)
        practice = _practice(str(data.get("practice", "")))
        event = patient_trigger(
            practice=practice,
            kind=str(data.get("kind", "")),
            patient_id=str(data.get("patient_id") or ""),
            fields=data.get("fields") or {},
        )
    except SandboxError as exc:
        return _refusal(exc)
    return JsonResponse(event, status=201)


def patient_trigger(
    *, practice: Practice, kind: str, patient_id: str = "", fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Change a patient as a practice user would; the event that follows (for sandbox_trigger)."""
    fields = fields or {}
    if kind == "create":
        from sandbox.seeddata import random_patient_fields

        patient = patients.patient_create(
            practice=practice, data={**random_patient_fields(), **fields}, from_api=False
        )
    else:
        if kind not in ("update", "delete", "deactivate"):
            raise SandboxError(422, "kind must be create, update, delete or deactivate")
        patient = (
            patients.patient_lookup(practice, patient_id)
            if patient_id
            else Patient.objects.filter(practice=practice, archived=False).order_by("?").first()
        )
        if patient is None:
            raise SandboxError(404, "This practice has no patient to change")
        if kind == "update":
            fields = fields or {"address_line2": f"Apt {patient.pk % 97 + 1}"}
            patients.patient_update(patient=patient, data=fields, from_api=False)
        elif kind == "deactivate":
            patient_deactivate(patient=patient)
    hint_id = patient.hint_id
    if kind == "delete":
        patient_delete(patient=patient)
    event = WebhookEvent.objects.filter(practice=practice).order_by("-id").first()
    return {
        "patient_id": hint_id,
        "event_id": event.hint_id if event else None,
        "event_status": event.status if event else None,
    }


@require_GET
def events(request: HttpRequest) -> JsonResponse:
    """Recent events with their delivery attempts (newest first)."""
    qs = WebhookEvent.objects.select_related("practice").prefetch_related("deliveries")
    if request.GET.get("type"):
        qs = qs.filter(type=request.GET["type"])
    items = [
        {
            "id": e.hint_id,
            "type": e.type,
            "practice_id": e.practice.hint_id,
            "status": e.status,
            "attempts": [
                {"status": a.status_code, "error": a.error, "url": a.url}
                for a in e.deliveries.all()
            ],
        }
        for e in qs[:50]
    ]
    return JsonResponse(items, safe=False)
