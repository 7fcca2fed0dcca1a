"""The host page: a small Hint with practices, users, patients, the app's surfaces and tools."""

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from sandbox import delivery, limits, patients
from sandbox.contract import GENDER_IDENTITIES
from sandbox.models import (
    Anchor,
    Config,
    Installation,
    Interaction,
    Patient,
    Practice,
    User,
    WebhookEvent,
)
from sandbox.services import (
    SandboxError,
    handshake_payload,
    handshake_send,
    handshake_sign,
    handshake_target,
    installation_activate,
    installation_current,
    installation_deactivate,
    installation_post_code,
    installation_start,
    patient_deactivate,
    patient_delete,
)

PRACTICE_COOKIE = "sbx_practice"
USER_COOKIE = "sbx_user"
FIXED_FRAME = {"core_page", "settings"}
FAULT_FIELDS = (
    "rate_limit_per_second",
    "fault_error_rate",
    "fault_latency_ms",
    "fault_timeout_rate",
    "fault_late_success_rate",
    "fault_slow_seconds",
    "page_cap",
)
SWITCH_FIELDS = (
    "webhook_duplicates",
    "webhook_out_of_order",
    "webhook_on_api_writes",
    "localhost_mode",
    "strict",
    "ignore_time_filters",
)


def _current(request: HttpRequest) -> tuple[Practice, User]:
    practice = (
        Practice.objects.filter(hint_id=request.COOKIES.get(PRACTICE_COOKIE, "")).first()
        or Practice.objects.order_by("id").first()
    )
    user = (
        User.objects.filter(hint_id=request.COOKIES.get(USER_COOKIE, "")).first()
        or User.objects.first()
    )
    if practice is None or user is None:
        raise Http404("The sandbox has no practices or users yet: run manage.py sandbox_seed.")
    return practice, user


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    practice, user = _current(request)
    config = Config.get()
    installation = installation_current(practice)
    context = {
        "practice": practice,
        "user": user,
        "practices": Practice.objects.order_by("id"),
        "users": User.objects.all(),
        "config": config,
        "installation": installation,
        "app_origin": _origin(config.app_url),
        **context,
    }
    return render(request, template, context)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _surface(
    *,
    practice: Practice,
    user: User,
    surface: str,
    patient: Patient | None = None,
    interaction: Interaction | None = None,
) -> dict[str, Any]:
    """What the page needs to show a surface: an iframe URL, or the signed body for the browser
    (localhost mode), or the plain reason the handshake failed."""
    config = Config.get()
    frame: dict[str, Any] = {"surface": surface, "fixed": surface in FIXED_FRAME}
    try:
        payload = handshake_payload(
            practice=practice, user=user, surface=surface, patient=patient, interaction=interaction
        )
        if config.localhost_mode:
            body, signature = handshake_sign(payload)
            frame["browser"] = {
                "handshake_url": handshake_target(app_url=config.app_url, browser=True),
                "surface_url": f"{config.app_url}/hint/{surface}",
                "body": body.decode(),
                "signature": signature,
            }
        else:
            frame["url"] = handshake_send(app_url=config.app_url, surface=surface, payload=payload)
    except SandboxError as exc:
        frame["error"] = exc.message
    return frame


def _context_json(
    user: User, patient: Patient | None, interaction: Interaction | None
) -> dict[str, Any]:
    """What the host tells the SDK inside the frame (HintSDK.user, currentPatient, …)."""
    return {
        "user": {
            "id": user.hint_id,
            "name": user.name,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        },
        "currentPatient": {"id": patient.hint_id, "name": patient.name} if patient else None,
        "interaction": {"id": interaction.hint_id} if interaction else None,
    }


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": "sandbox"})


@require_GET
def sdk_js(request: HttpRequest) -> HttpResponse:
    """Hint's Marketplace JS SDK, imitated (`<script src="{HINT_API_URL}/hint-sdk.js">`)."""
    response = HttpResponse(
        render_to_string("sandbox/hint-sdk.js"), content_type="application/javascript"
    )
    response["Cache-Control"] = "no-cache"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """The practice and user switchers (cookies on the sandbox's own origin)."""
    target = request.POST.get("next") or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    practice = Practice.objects.filter(hint_id=request.POST.get("practice", "")).first()
    user = User.objects.filter(hint_id=request.POST.get("user", "")).first()
    if practice:
        response.set_cookie(PRACTICE_COOKIE, practice.hint_id, samesite="Lax")
        if target.startswith("/patients/"):
            response["Location"] = "/"  # that chart belongs to the other practice
    if user:
        response.set_cookie(USER_COOKIE, user.hint_id, samesite="Lax")
    return response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    practice, _ = _current(request)
    q = request.GET.get("q", "").strip()
    qs = Patient.objects.filter(practice=practice, archived=request.GET.get("archived") == "1")
    for word in q.split():
        qs = qs.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    paginator = Paginator(qs.order_by("last_name", "first_name", "id"), 50)
    page = paginator.get_page(request.GET.get("page"))
    return _page(request, "sandbox/home.html", {"page": page, "q": q, "nav": "patients"})


@require_GET
def app_page(request: HttpRequest) -> HttpResponse:
    """The app in the sidebar: `core_page`."""
    practice, user = _current(request)
    frame = _surface(practice=practice, user=user, surface="core_page")
    return _page(
        request,
        "sandbox/app.html",
        {"frame": frame, "nav": "app", "sdk_context": _context_json(user, None, None)},
    )


@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    """Practice settings: the installation and the app's `settings` surface."""
    practice, user = _current(request)
    installation = installation_current(practice)
    frame = _surface(practice=practice, user=user, surface="settings") if installation else None
    last = practice.installations.first()
    anchor = Anchor.objects.filter(type="settings").first()
    return _page(
        request,
        "sandbox/settings.html",
        {
            "frame": frame,
            # Hint names the app's settings tab by the anchor's label, else by the app's name.
            "settings_label": (anchor.settings_label if anchor else "") or "hintpartner settings",
            "nav": "settings",
            "last_installation": last,
            "modes": Installation.Mode.choices,
            "sdk_context": _context_json(user, None, None),
        },
    )


@require_POST
def install(request: HttpRequest) -> HttpResponse:
    practice, _ = _current(request)
    try:
        installation = installation_start(practice=practice, mode=request.POST.get("mode", ""))
    except SandboxError as exc:
        return redirect(reverse("sandbox:settings") + "?" + urlencode({"error": exc.message}))
    if request.POST.get("delivery", "post") == "post":
        installation_post_code(installation=installation, app_url=Config.get().app_url)
    else:
        Installation.objects.filter(pk=installation.pk).update(
            connect_result="Code shown for pasting into the app's settings."
        )
    return redirect("sandbox:settings")


@require_POST
def installation_action(request: HttpRequest, action: str) -> HttpResponse:
    practice, _ = _current(request)
    installation = installation_current(practice)
    if installation is None:
        return redirect("sandbox:settings")
    if action == "uninstall":
        installation_deactivate(installation=installation)
    elif action in ("finish", "activate"):
        installation_activate(installation=installation)
    elif action == "repost":
        installation_post_code(installation=installation, app_url=Config.get().app_url)
    return redirect("sandbox:settings")


def _patient(request: HttpRequest, patient_id: str) -> tuple[Practice, User, Patient]:
    _, user = _current(request)
    patient = get_object_or_404(Patient.objects.select_related("practice"), hint_id=patient_id)
    return patient.practice, user, patient


@require_GET
def chart(request: HttpRequest, patient_id: str) -> HttpResponse:
    """A patient's chart with the app's `clinical_chart` and its partner interactions."""
    practice, user, patient = _patient(request, patient_id)
    frame = _surface(practice=practice, user=user, surface="clinical_chart", patient=patient)
    others = Patient.objects.filter(practice=practice, archived=False).exclude(pk=patient.pk)
    response = _page(
        request,
        "sandbox/chart.html",
        {
            "patient": patient,
            "frame": frame,
            "interactions": patient.interactions.all(),
            "others": others.order_by("last_name", "first_name")[:30],
            "nav": "patients",
            "sdk_context": _context_json(user, patient, None),
            "practitioners": practice.practitioners.all(),
            "gender_identities": GENDER_IDENTITIES,
            "practice": practice,
            "p": _form_initial(patient),
        },
    )
    response.set_cookie(PRACTICE_COOKIE, practice.hint_id, samesite="Lax")
    return response


@require_GET
def interaction_page(request: HttpRequest, patient_id: str, interaction_id: str) -> HttpResponse:
    practice, user, patient = _patient(request, patient_id)
    interaction = get_object_or_404(patient.interactions, hint_id=interaction_id)
    frame = _surface(
        practice=practice,
        user=user,
        surface="clinical_interaction",
        patient=patient,
        interaction=interaction,
    )
    return _page(
        request,
        "sandbox/interaction.html",
        {
            "patient": patient,
            "interaction": interaction,
            "frame": frame,
            "nav": "patients",
            "sdk_context": _context_json(user, patient, interaction),
            "practice": practice,
        },
    )


def _form_initial(source: Patient | Any) -> dict[str, str]:
    """The patient form's values, from a patient or from a posted form."""
    if isinstance(source, Patient):
        return {
            "first_name": source.first_name,
            "last_name": source.last_name,
            "dob": source.dob.isoformat() if source.dob else "",
            "sex": source.sex,
            "email": source.email,
            "phone": _mobile(source.phones),
            "address_line1": source.address_line1,
            "address_city": source.address_city,
            "address_state": source.address_state,
            "address_zip": source.address_zip,
            "gender_identity": source.gender_identity,
            "gender_other": source.gender_other,
            "practitioner": source.practitioner.hint_id if source.practitioner else "",
        }
    return {k: str(v) for k, v in source.items()}


# What the patient form shows (`_patient_fields.html`), besides the mobile phone and practitioner.
FORM_FIELDS = (
    "first_name",
    "last_name",
    "dob",
    "sex",
    "gender_identity",
    "gender_other",
    "email",
    "address_line1",
    "address_city",
    "address_state",
    "address_zip",
)


def _mobile(phones: Any) -> str:
    """The number of the mobile entry of `phones` (the one the form shows), if any."""
    for phone in phones or []:
        if isinstance(phone, dict) and phone.get("type") == "mobile":
            return str(phone.get("number") or "")
    return ""


def _phones_with_mobile(phones: Any, number: str) -> list[dict[str, Any]]:
    """`phones` with its mobile entry set to `number` (removed when blank); the home and office
    entries kept as they are."""
    number = number.strip()
    kept = [dict(p) for p in phones or [] if isinstance(p, dict)]
    mobile = next((p for p in kept if p.get("type") == "mobile"), None)
    if not number:
        return [p for p in kept if p is not mobile]
    formattable = sum(c.isdigit() for c in number) == 10
    if mobile is None:
        return [*kept, {"type": "mobile", "number": number, "us_formattable": formattable}]
    if mobile.get("number") != number:
        mobile.update(number=number, us_formattable=formattable)
    return kept


def _form_data(request: HttpRequest, patient: Patient | None = None) -> dict[str, Any]:
    """The fields the form shows, as posted: like Hint's own form, a save changes nothing it
    does not show (title, middle name, the home and office phones stay as they are)."""
    post = request.POST
    data: dict[str, Any] = {name: post[name] for name in FORM_FIELDS if name in post}
    if "phone" in post:
        data["phones"] = _phones_with_mobile(patient.phones if patient else [], post["phone"])
    if "practitioner" in post:
        data["practitioner"] = {"id": post["practitioner"]}
    return data


def patient_new(request: HttpRequest) -> HttpResponse:
    practice, _ = _current(request)
    error = ""
    if request.method == "POST":
        try:
            patient = patients.patient_create(
                practice=practice, data=_form_data(request), from_api=False
            )
            return redirect("sandbox:chart", patient_id=patient.hint_id)
        except SandboxError as exc:
            error = exc.message
    return _page(
        request,
        "sandbox/patient_new.html",
        {
            "error": error,
            "form": _form_initial(request.POST),
            "nav": "patients",
            "practitioners": practice.practitioners.all(),
            "gender_identities": GENDER_IDENTITIES,
        },
    )


@require_POST
def patient_action(request: HttpRequest, patient_id: str, action: str) -> HttpResponse:
    _, _, patient = _patient(request, patient_id)
    if action == "update":
        try:
            patients.patient_update(
                patient=patient, data=_form_data(request, patient), from_api=False
            )
        except SandboxError as exc:
            return redirect(f"/patients/{patient.hint_id}/?" + urlencode({"error": exc.message}))
    elif action == "deactivate":
        patient_deactivate(patient=patient)
    elif action == "delete":
        patient_delete(patient=patient)
        return redirect("sandbox:home")
    return redirect("sandbox:chart", patient_id=patient.hint_id)


@require_GET
def deliveries(request: HttpRequest) -> HttpResponse:
    events = WebhookEvent.objects.select_related("practice").prefetch_related("deliveries")
    page = Paginator(events, 25).get_page(request.GET.get("page"))
    return _page(
        request,
        "sandbox/deliveries.html",
        {"page": page, "nav": "deliveries", "endpoint": delivery.endpoint_url(Config.get())},
    )


@require_POST
def resend(request: HttpRequest, event_id: str) -> HttpResponse:
    event = get_object_or_404(WebhookEvent, hint_id=event_id)
    delivery.event_resend(event=event)
    return redirect("sandbox:deliveries")


def config_update(config: Config, data: Any) -> list[str]:
    """Set faults and switches from a form or JSON; returns the plain errors, if any."""
    errors = []
    for name in FAULT_FIELDS:
        if name in data and data[name] not in ("", None):
            try:
                value = float(data[name])
            except (TypeError, ValueError):
                errors.append(f"{name} must be a number.")
                continue
            if value < 0 or (name.endswith("_rate") and value > 1):
                errors.append(f"{name} is out of range.")
                continue
            if name == "page_cap" and not 1 <= value <= 100:
                errors.append("page_cap must be between 1 and 100.")
                continue
            integer = name in ("fault_latency_ms", "page_cap")
            setattr(config, name, int(value) if integer else value)
    for name in SWITCH_FIELDS:
        if isinstance(data, dict) and name in data:
            setattr(config, name, bool(data[name]))
    if not errors:
        config.save()
        limits.config_forget()
    return errors


def tools(request: HttpRequest) -> HttpResponse:
    """Faults, webhook switches and localhost mode."""
    config = Config.get()
    errors: list[str] = []
    saved = False
    if request.method == "POST":
        data: dict[str, Any] = {k: request.POST.get(k) for k in FAULT_FIELDS}
        data.update({k: request.POST.get(k) == "on" for k in SWITCH_FIELDS})
        errors = config_update(config, data)
        saved = not errors
    return _page(
        request,
        "sandbox/tools.html",
        {"errors": errors, "saved": saved, "nav": "tools", "partner_key_hint": _key_hint()},
    )


def _key_hint() -> str:
    key = settings.HINT_API_KEY
    return (key[:12] + "…") if key else "(not set)"
