"""What the sandbox does, as Hint would: shapes, installations, tokens, handshakes, events."""

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hintpartner.hint import signing
from sandbox.models import (
    ApiToken,
    Config,
    Installation,
    Interaction,
    PartnerApp,
    Patient,
    Practice,
    User,
    WebhookEvent,
    new_id,
)

logger = logging.getLogger("sandbox")

SURFACES = ("core_page", "settings", "clinical_chart", "clinical_interaction")
CLINICAL_SURFACES = ("clinical_chart", "clinical_interaction")
PATIENT_EVENTS = {
    "create": "patient.created",
    "update": "patient.updated",
    "delete": "patient.destroyed",
    "deactivate": "patient.inactive",
}
WEBHOOK_EVENT_TYPES = [
    "patient.created",
    "patient.updated",
    "patient.destroyed",
    "patient.inactive",
    "integration.activated",
    "integration.deactivated",
    "membership.created",
    "membership.updated",
    "practitioner.updated",
]


class SandboxError(Exception):
    """A refusal with an HTTP status and Hint's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value.isoformat()


# --- shapes -----------------------------------------------------------------------------------


def _address_lines(patient: Patient) -> dict[str, str]:
    from sandbox import contract, limits

    names = contract.ADDRESS_SHAPES.get(
        limits.config_cached().address_shape, contract.ADDRESS_SHAPES["address_line1"]
    )
    return {names[0]: patient.address_line1, names[1]: patient.address_line2}


def patient_json(patient: Patient, *, public_url: str) -> dict[str, Any]:
    """A patient as Hint's Provider API returns it."""
    practitioner = (
        {"id": patient.practitioner.hint_id, "name": patient.practitioner.name}
        if patient.practitioner_id
        else None
    )
    return {
        "id": patient.hint_id,
        "title": patient.title,
        "first_name": patient.first_name,
        "middle_name": patient.middle_name,
        "last_name": patient.last_name,
        "suffix": patient.suffix,
        "name": patient.name,
        "chosen_first_name": patient.chosen_first_name,
        "dob": _iso(patient.dob),
        "sex": patient.sex or None,
        "gender_identity": patient.gender_identity or None,
        "gender_other": patient.gender_other or None,
        "gender": patient.sex or None,  # deprecated by Hint; still present
        "pronouns": patient.pronouns or None,
        "preferred_language": patient.preferred_language or None,
        "email": patient.email or None,
        "phones": [_phone_json(p) for p in patient.phones or [] if isinstance(p, dict)],
        # Named as the sandbox is set to name them (Hint's description, or go-hint's).
        **_address_lines(patient),
        "address_city": patient.address_city,
        "address_state": patient.address_state,
        "address_zip": patient.address_zip,
        "address_country": patient.address_country,
        "practitioner": practitioner,
        "health_insurance_payer_name": patient.health_insurance_payer_name or None,
        "health_insurance_payer_id": patient.health_insurance_payer_id or None,
        "health_insurance_group_id": patient.health_insurance_group_id or None,
        "health_insurance_member_id": patient.health_insurance_member_id or None,
        "hipaa_authorization_accepted": patient.hipaa_authorization_accepted,
        "hipaa_authorization_accepted_at": _iso(patient.hipaa_authorization_accepted_at),
        "patient_agreement_accepted": patient.patient_agreement_accepted,
        "patient_agreement_accepted_at": _iso(patient.patient_agreement_accepted_at),
        "membership_status": patient.membership_status,
        "archived": patient.archived,
        "provider_web_link": f"{public_url}/patients/{patient.hint_id}/",
        "integration_record_id": patient.integration_record_id or None,
        "integration_web_link": patient.integration_web_link or None,
        "integration_error_message": patient.integration_error_message or None,
        "integration_sync_status": patient.integration_sync_status,
        "integration_last_synced_at": _iso(patient.integration_last_synced_at),
        "created_at": _iso(patient.created_at),
        "updated_at": _iso(patient.updated_at),
    }


def _phone_json(phone: dict[str, Any]) -> dict[str, Any]:
    number = str(phone.get("number") or "")
    formattable = phone.get("us_formattable")
    if not isinstance(formattable, bool):  # rows stored before the sandbox kept it
        formattable = sum(c.isdigit() for c in number) == 10
    return {"type": phone.get("type") or "mobile", "number": number, "us_formattable": formattable}


def interaction_json(interaction: Interaction) -> dict[str, Any]:
    return {
        "id": interaction.hint_id,
        "type": "partner",
        "status": interaction.status,
        "title": interaction.title,
        "patient_id": interaction.patient.hint_id,
        "partner_product_id": interaction.partner_product_id or settings.HINT_PRODUCT_ID,
        "integration_record_id": interaction.integration_record_id or None,
        "integration_web_link": interaction.integration_web_link or None,
        "integration_error_message": interaction.integration_error_message or None,
        "created_at": _iso(interaction.created_at),
        "updated_at": _iso(interaction.updated_at),
    }


def installation_json(installation: Installation) -> dict[str, Any]:
    """Hint's installation shape; the practice token is `api_keys[0].token`."""
    keys = [
        {
            "id": t.key_id,
            "token": t.token,
            "created_at": _iso(t.created_at),
            "last_used_at": _iso(t.last_used_at),
            "deactivated_at": _iso(t.revoked_at),
        }
        for t in installation.tokens.filter(kind=ApiToken.Kind.PRACTICE).order_by("-id")
    ]
    return {
        "id": installation.hint_id,
        "status": installation.status,
        "activation_mode": installation.mode,
        "practice": {"id": installation.practice.hint_id, "name": installation.practice.name},
        "product": {
            "id": settings.HINT_PRODUCT_ID,
            "name": "hintpartner",
            "slug": "hintpartner",
        },
        "api_keys": keys,
        "default_partner_app_admin_role": None,
        "default_partner_app_non_admin_role": None,
        "created_at": _iso(installation.created_at),
    }


# --- webhook events ---------------------------------------------------------------------------


def practice_is_active(practice: Practice) -> bool:
    return practice.installations.filter(status=Installation.Status.ACTIVE).exists()


def event_emit(
    *, practice: Practice, type: str, obj: dict[str, Any], force: bool = False
) -> WebhookEvent:
    """Queue a signed-on-delivery event; only active installations receive one."""
    event_id = new_id("evt", 16)
    body = {
        "id": event_id,
        "type": type,
        "practice_id": practice.hint_id,
        "created_at": _iso(timezone.now()),
        "object": obj,
    }
    active = force or practice_is_active(practice)
    return WebhookEvent.objects.create(
        practice=practice,
        hint_id=event_id,
        type=type,
        body=body,
        status=WebhookEvent.Status.PENDING if active else WebhookEvent.Status.SKIPPED,
        note="" if active else "Not sent: the app is not installed and active for this practice.",
    )


def patient_changed(
    *, patient: Patient, kind: str, from_api: bool = False, config: Config | None = None
) -> WebhookEvent | None:
    """Record a patient change as Hint's event (create, update, delete or deactivate)."""
    config = config or Config.get()
    if from_api and not config.webhook_on_api_writes:
        return None
    obj = patient_json(patient, public_url=config.public_url)
    return event_emit(practice=patient.practice, type=PATIENT_EVENTS[kind], obj=obj)


def patient_deactivate(*, patient: Patient) -> None:
    """Hint's 'inactive' patient: archived, membership inactive, an event sent."""
    with transaction.atomic():
        patient.archived = True
        patient.membership_status = "inactive"
        patient.updated_at = timezone.now()
        patient.save()
        patient_changed(patient=patient, kind="deactivate")


def patient_delete(*, patient: Patient, from_api: bool = False) -> None:
    with transaction.atomic():
        config = Config.get()
        patient_changed(patient=patient, kind="delete", from_api=from_api, config=config)
        patient.delete()


# --- installations ----------------------------------------------------------------------------


def installation_current(practice: Practice) -> Installation | None:
    return practice.installations.exclude(status=Installation.Status.DEACTIVATED).first()


def installation_start(*, practice: Practice, mode: str) -> Installation:
    """The practice clicks "Install app": an installation, its practice token and a code."""
    if mode not in Installation.Mode.values:
        raise SandboxError(422, f"Unknown activation mode {mode!r}.")
    with transaction.atomic():
        current = installation_current(practice)
        if current is not None:
            raise SandboxError(409, "The app is already installed for this practice.")
        status = {
            Installation.Mode.INSTANT: Installation.Status.ACTIVE,
            Installation.Mode.PRACTICE_ACTIVATE: Installation.Status.ONBOARDING,
            Installation.Mode.PARTNER_ACTIVATE: Installation.Status.PENDING,
        }[Installation.Mode(mode)]
        installation = Installation.objects.create(
            practice=practice,
            hint_id=new_id("inst"),
            mode=mode,
            status=status,
            code=new_id("code", 24),
            activated_at=timezone.now() if status == Installation.Status.ACTIVE else None,
        )
        ApiToken.objects.create(
            kind=ApiToken.Kind.PRACTICE,
            practice=practice,
            installation=installation,
            key_id=new_id("key"),
        )
        if status == Installation.Status.ACTIVE:
            _emit_integration(installation, "integration.activated")
    return installation


def _emit_integration(installation: Installation, type: str) -> None:
    obj = installation_json(installation)
    obj["api_keys"] = []  # events never carry tokens
    event_emit(practice=installation.practice, type=type, obj=obj, force=True)


def installation_post_code(*, installation: Installation, app_url: str) -> str:
    """Hint's headless mode: POST the one-time code to the app's connect route."""
    url = f"{app_url}/hint/connect/{installation.code}"
    try:
        response = requests.post(url, timeout=15)
        result = f"The app answered {response.status_code} to the code."
        if response.status_code >= 400:
            result += " It did not accept the installation; see the app's log."
    except requests.RequestException:
        result = f"Could not reach the app at {app_url}. Is it running?"
    Installation.objects.filter(pk=installation.pk).update(connect_result=result)
    return result


def installation_connect(*, code: str, activate: bool | None) -> Installation:
    """The partner exchanges the one-time code (either flow)."""
    with transaction.atomic():
        installation = Installation.objects.filter(code=code).first()
        if installation is None or not code:
            raise SandboxError(422, "Invalid code.")
        if installation.code_used_at is not None:
            raise SandboxError(422, "Code has already been used.")
        if installation.status == Installation.Status.DEACTIVATED:
            raise SandboxError(422, "This installation was uninstalled.")
        installation.code_used_at = timezone.now()
        installation.save(update_fields=["code_used_at"])
        if (
            activate is False
            and installation.status == Installation.Status.ACTIVE
            and installation.mode == Installation.Mode.INSTANT
        ):
            # The partner asked to hold the installation until it activates it itself.
            installation.status = Installation.Status.PENDING
            installation.activated_at = None
            installation.save(update_fields=["status", "activated_at"])
    return installation


def installation_activate(*, installation: Installation) -> Installation:
    with transaction.atomic():
        if installation.status == Installation.Status.DEACTIVATED:
            raise SandboxError(422, "This installation was uninstalled.")
        if installation.status != Installation.Status.ACTIVE:
            installation.status = Installation.Status.ACTIVE
            installation.activated_at = timezone.now()
            installation.save(update_fields=["status", "activated_at"])
            _emit_integration(installation, "integration.activated")
    return installation


def installation_deactivate(*, installation: Installation) -> Installation:
    """Uninstall: deactivated, practice and session tokens revoked, `integration.deactivated`."""
    with transaction.atomic():
        if installation.status == Installation.Status.DEACTIVATED:
            return installation
        now = timezone.now()
        installation.status = Installation.Status.DEACTIVATED
        installation.deactivated_at = now
        installation.save(update_fields=["status", "deactivated_at"])
        ApiToken.objects.filter(practice=installation.practice, revoked_at=None).update(
            revoked_at=now
        )
        _emit_integration(installation, "integration.deactivated")
    return installation


# --- tokens -----------------------------------------------------------------------------------


def token_resolve(raw: str) -> ApiToken:
    """The live practice or session token `raw`, else SandboxError (401 / 428 / 403)."""
    if raw and settings.HINT_API_KEY and raw == settings.HINT_API_KEY:
        raise SandboxError(428, "This action requires a Practice")
    token = (
        ApiToken.objects.select_related("practice", "installation").filter(token=raw).first()
        if raw
        else None
    )
    now = timezone.now()
    if token is None or token.revoked_at is not None:
        raise SandboxError(401, "Unauthorized")
    if token.expires_at is not None and token.expires_at <= now:
        raise SandboxError(401, "Unauthorized")
    if (
        token.kind == ApiToken.Kind.PRACTICE
        and token.installation is not None
        and token.installation.status != Installation.Status.ACTIVE
    ):
        raise SandboxError(403, "This installation is not active yet")
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=30):
        # Coarse, like Hint's `last_used_at`: no write on every request of a burst.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def session_token_mint(*, practice: Practice, user: User) -> ApiToken:
    """A short-lived token for one embed session, scoped to the practice and the user."""
    minutes = settings.SANDBOX_SESSION_TOKEN_MINUTES
    return ApiToken.objects.create(
        kind=ApiToken.Kind.SESSION,
        practice=practice,
        user=user,
        key_id=new_id("skey"),
        expires_at=timezone.now() + timedelta(minutes=minutes),
    )


# --- handshakes -------------------------------------------------------------------------------


def handshake_payload(
    *,
    practice: Practice,
    user: User,
    surface: str,
    patient: Patient | None = None,
    interaction: Interaction | None = None,
) -> dict[str, Any]:
    """Hint's full handshake payload, with a fresh session-scoped access token."""
    if surface not in SURFACES:
        raise SandboxError(404, f"Unknown surface {surface!r}.")
    if surface in CLINICAL_SURFACES and patient is None:
        raise SandboxError(422, "A clinical surface needs a patient.")
    if surface == "clinical_interaction" and interaction is None:
        raise SandboxError(422, "clinical_interaction needs an interaction.")
    installation = installation_current(practice)
    token = session_token_mint(practice=practice, user=user)
    payload: dict[str, Any] = {
        "timestamp": timezone.localtime(timezone.now()).isoformat(),
        "user": {
            "id": user.hint_id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "name": user.name,
            "phones": [],
            "partner_roles": list(user.partner_roles),
        },
        "practice": {"id": practice.hint_id, "name": practice.name},
        "integration": {"id": installation.hint_id if installation else ""},
        "access_token": token.token,
        "access_context": user.access_context,
        "browser_allow_list": [],
    }
    if surface in CLINICAL_SURFACES and patient is not None:
        payload["patient"] = {"id": patient.hint_id}
    if surface == "clinical_interaction" and interaction is not None:
        payload["interaction"] = {"id": interaction.hint_id}
    return payload


def handshake_sign(payload: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, signing.sign(body, settings.HINT_WEBHOOK_SECRET)


def handshake_target(*, app_url: str, browser: bool) -> str:
    """Where a handshake goes, as Hint decides it: the URL registered for the app
    (`/api/partner/app`: `localhost_handshake_url` when the browser sends it in localhost mode,
    else `handshake_url`), or the app's own `/hint/handshake` while none is registered."""
    app = PartnerApp.get()
    registered = app.localhost_handshake_url if browser else app.handshake_url
    return registered or f"{app_url}/hint/handshake"


def handshake_send(*, app_url: str, surface: str, payload: dict[str, Any]) -> str:
    """POST the signed handshake; the iframe URL, or SandboxError saying what went wrong."""
    body, signature = handshake_sign(payload)
    url = handshake_target(app_url=app_url, browser=False)
    try:
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", signing.SIGNATURE_HEADER: signature},
            timeout=15,
        )
    except requests.RequestException as exc:
        raise SandboxError(502, f"Could not reach the app at {url}. Is it running?") from exc
    if response.status_code != 200:
        raise SandboxError(
            502,
            f"The app answered {response.status_code} to the handshake at {url}"
            f"{': ' + _short(response.text) if response.text else ''}.",
        )
    try:
        session_key = str(response.json()["session_key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SandboxError(
            502, 'The app answered the handshake without a JSON {"session_key": …}.'
        ) from exc
    return surface_url(app_url=app_url, surface=surface, session_key=session_key)


def surface_url(*, app_url: str, surface: str, session_key: str) -> str:
    return f"{app_url}/hint/{surface}?session_key={requests.utils.quote(session_key, safe='')}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")
