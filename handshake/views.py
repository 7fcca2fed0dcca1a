"""The handshake, installation and the four surfaces Hint frames."""

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from handshake import cors, services
from handshake.context import HintRequest
from handshake.decorators import hint_session
from handshake.links import url_with_session
from handshake.models import Practice, PracticeUser
from hintpartner.hint.signing import SIGNATURE_META_KEY
from hintpartner.routes import route_access

logger = logging.getLogger("hintpartner.handshake")

USERS_SHOWN = 200  # the settings page lists the most recent visitors first

# --- handshake --------------------------------------------------------------------------------


@route_access("signed")
@csrf_exempt  # signed by Hint, never authenticated by a cookie
@require_http_methods(["POST", "OPTIONS"])
def handshake(request: HttpRequest) -> HttpResponse:
    """Hint's signed handshake (server to server, or from the portal's browser: CORS).

    In production a POST takes the lean route (`handshake.wsgi`, `WSGI_LEAN_ROUTES`); this view
    answers it when the lean route is not mounted, from the same function, and answers the CORS
    preflight (OPTIONS), which the lean route leaves to Django.
    """
    origin = request.headers.get("Origin", "")
    if request.method == "POST":
        status, answer = services.handshake_answer(
            declared_length=request.META.get("CONTENT_LENGTH"),
            read_body=lambda _size: request.body,
            signature=request.META.get(SIGNATURE_META_KEY),
        )
        response = HttpResponse(json.dumps(answer), status=status, content_type="application/json")
        for name, value in services.answer_headers(origin):
            response[name] = value
        return response
    allowed = cors.origin_allowed(origin)
    response = HttpResponse(status=204 if allowed else 403)
    if allowed:
        cors.preflight_headers(
            response,
            private_network=bool(request.headers.get("Access-Control-Request-Private-Network")),
        )
        response["Access-Control-Allow-Origin"] = origin
    patch_vary_headers(response, ["Origin"])
    patch_cache_control(response, no_store=True)
    return response


# --- installation -----------------------------------------------------------------------------


@route_access("public")  # anyone may call it; only a code Hint accepts changes anything
@csrf_exempt  # Hint posts the code; the exchange with Hint is what authenticates it
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, code: str) -> HttpResponse:
    """Exchange Hint's one-time install code (POST from Hint, or GET from an admin's browser)."""
    practice: Practice | None = None
    try:
        practice = services.installation_connect(code=code)
        status, message = 200, ""
    except services.InstallationFailed as exc:
        status, message = exc.status, str(exc)
    if request.method == "POST":
        body = {"status": practice.installation_status} if practice else {"error": message}
        response: HttpResponse = JsonResponse(body, status=status)
    else:
        response = render(
            request,
            "handshake/connect_result.html",
            {"practice": practice, "message": message},
            status=status,
        )
    patch_cache_control(response, no_store=True)
    # The code is in the path: keep it out of Django's request log for failed answers.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# --- surfaces ---------------------------------------------------------------------------------


def _state(practice: Practice) -> str:
    """ready, installing, pending, disconnected or deactivated: what the pages must say."""
    status = Practice.InstallationStatus
    if practice.is_connected:
        return "ready"
    return {
        status.PENDING: "pending",
        status.DISCONNECTED: "disconnected",
        status.DEACTIVATED: "deactivated",
    }.get(practice.installation_status, "installing")


def _panel_urls(names: list[str], session_key: str) -> list[str]:
    urls = []
    for name in names:
        try:
            urls.append(url_with_session(reverse(name), session_key))
        except NoReverseMatch:
            # One misnamed panel in settings must not take the whole surface down.
            logger.error("HINT_SURFACE_PANELS names %r, which is no URL name; skipped", name)
    return urls


def _surface(request: HintRequest, surface: str, template: str, **extra: object) -> HttpResponse:
    hint = request.hint
    panel_names = settings.HINT_SURFACE_PANELS.get(surface, [])
    context = {
        "surface": surface,
        "state": _state(hint.practice),
        "panels": _panel_urls(panel_names, hint.session_key),
        **extra,
    }
    return render(request, template, context)


@require_http_methods(["GET"])
@hint_session()
def core_page(request: HintRequest) -> HttpResponse:
    """The app's full page, from Hint's sidebar."""
    return _surface(request, "core_page", "handshake/core_page.html")


@require_http_methods(["GET"])
@hint_session()
def settings_page(request: HintRequest) -> HttpResponse:
    """Inside the practice's settings: installation status, code form, users (admins)."""
    return _settings_render(request)


def _settings_render(request: HintRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    hint = request.hint
    users: list[PracticeUser] = []
    if hint.has("view_settings"):
        users = list(
            PracticeUser.objects.for_practice(hint.practice).order_by(
                F("last_visit_at").desc(nulls_last=True), "pk"
            )[:USERS_SHOWN]
        )
    notice = {
        "connected": "The installation code was accepted.",
        "activated": "The installation is active.",
        "disconnected": "The app is disconnected from this practice. Its data here is kept.",
    }.get(request.GET.get("notice", ""), "")
    if _state(hint.practice) in ("disconnected", "deactivated"):
        notice = ""  # the page's state banner already says so: one message, not two
    response = _surface(
        request,
        "settings",
        "handshake/settings.html",
        users=users,
        notice=notice,
        error=error,
        practice=hint.practice,
        # Its panels are for those who may see the settings: for others they would be 403s.
        **({} if hint.has("view_settings") else {"panels": []}),
    )
    response.status_code = status
    return response


@require_POST
@hint_session(permission="administer")
def settings_connect(request: HintRequest) -> HttpResponse:
    """An admin pastes an installation code (Hint's manual activation)."""
    code = request.POST.get("code", "")
    return _settings_action(
        request,
        "connected",
        lambda: services.installation_connect(code=code, hint=request.hint),
    )


@require_POST
@hint_session(permission="administer")
def settings_activate(request: HintRequest) -> HttpResponse:
    """Activate a pending installation (partner-activated products)."""
    hint = request.hint
    return _settings_action(
        request,
        "activated",
        lambda: services.installation_activate(practice=hint.practice, hint=hint),
    )


@require_POST
@hint_session(permission="administer")
def settings_disconnect(request: HintRequest) -> HttpResponse:
    """Uninstall through Hint; the practice's data here is kept."""
    hint = request.hint
    return _settings_action(
        request,
        "disconnected",
        lambda: services.installation_disconnect(practice=hint.practice, hint=hint),
    )


def _settings_action(request: HintRequest, notice: str, run: Callable[[], object]) -> HttpResponse:
    hint = request.hint
    try:
        run()
    except services.InstallationFailed as exc:
        hint.practice.refresh_from_db()
        return _settings_render(request, error=str(exc), status=exc.status)
    url = url_with_session(reverse("handshake:settings"), hint.session_key, notice=notice)
    return HttpResponseRedirect(url, status=303)


def _clinical(request: HintRequest, surface: str) -> HttpResponse:
    # The SDK reports a patient change by reloading with ?patient_id=… (static surface.js).
    new_patient = request.GET.get("patient_id", "")
    if new_patient:
        services.session_patient_set(session=request.hint.session, patient_id=new_patient)
        request.hint = services.context_build(
            session=request.hint.session, key=request.hint.session_key
        )
    return _surface(request, surface, "handshake/clinical.html")


@require_http_methods(["GET"])
@hint_session()
def clinical_chart(request: HintRequest) -> HttpResponse:
    """Inside a patient's chart."""
    return _clinical(request, "clinical_chart")


@require_http_methods(["GET"])
@hint_session()
def clinical_interaction(request: HintRequest) -> HttpResponse:
    """Inside an open clinical interaction."""
    return _clinical(request, "clinical_interaction")
