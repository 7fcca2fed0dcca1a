"""Health endpoints for load balancers and humans, and the app's own error pages."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET

from hintpartner.models import WorkerHeartbeat
from hintpartner.routes import route_access
from hintpartner.security import frameable


@route_access("public")
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive."""
    return JsonResponse({"status": "ok"})


@route_access("public")
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database reachable, migrations applied, a worker seen recently."""
    checks: dict[str, object] = {}
    ready = True
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else f"{len(pending)} not applied"
        ready &= not pending
        beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    except DatabaseError:
        checks["database"] = "unreachable"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    if beat is None:
        checks["worker"] = "never seen"
        ready = False
    else:
        age = (timezone.now() - beat.seen_at).total_seconds()
        checks["worker_heartbeat_age_seconds"] = round(age, 1)
        if age > settings.WORKER_HEARTBEAT_STALE_SECONDS:
            checks["worker"] = "stale"
            ready = False
        else:
            checks["worker"] = "ok"
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


# --- Error pages ------------------------------------------------------------------------------
# Our 404, 403 and 500 pages (hintpartner.urls names them as handler404/403/500): plain words in
# the 1024x768 frame, the app's links when the request carries a live session, and never the
# path, the query (which holds the session key), an id or an exception's text.

# The handshake app's public functions that find a request's Hint session. Named, not imported:
# hintpartner sits below every app (the layers contract in pyproject.toml).
_SESSION_FUNCTIONS = (
    "handshake.decorators.session_key_from",
    "handshake.services.session_resolve",
    "handshake.services.context_build",
)


def _hint_for(request: HttpRequest) -> object | None:
    """The request's live Hint session: the one its @hint_session view attached, else its key's."""
    hint = getattr(request, "hint", None)
    if hint is not None:
        return hint
    key_from, resolve, build = (import_string(path) for path in _SESSION_FUNCTIONS)
    key = key_from(request)
    try:
        session = resolve(key=key) if key else None
    except DatabaseError:
        return None
    if session is None:
        return None
    request.hint = build(session=session, key=key)  # type: ignore[attr-defined]
    return request.hint  # type: ignore[attr-defined]


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    hint = _hint_for(request)
    response = render(request, template, {"nav": settings.HINT_NAV if hint else []}, status=status)
    if hint is not None:
        # Like every page inside a session: it carries the key, so it is never cached.
        patch_cache_control(response, private=True, no_store=True)
    return response


@frameable
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: our page, with the session's links when there is one."""
    return _error_page(request, "404.html", 404)


@frameable
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: our page, with the session's links when there is one."""
    return _error_page(request, "403.html", 403)


@frameable
def server_error(request: HttpRequest) -> HttpResponse:
    """500: a self-contained page that needs no database, session or static files manifest.

    The links are shown only when a @hint_session view had already attached the session.
    """
    hint = getattr(request, "hint", None)
    # Reading the nonce is what makes django-csp put it in this response's policy.
    nonce = str(request.csp_nonce) if hasattr(request, "csp_nonce") else ""
    context = {"hint": hint, "nav": settings.HINT_NAV if hint is not None else [], "nonce": nonce}
    try:
        body = loader.get_template("500.html").render(context)
    except Exception:  # the error page must not fail in turn: plain words without links
        context = {"hint": None, "nav": [], "nonce": nonce}
        body = loader.get_template("500.html").render(context)
    response = HttpResponseServerError(body)
    patch_cache_control(response, private=True, no_store=True)
    return response


@route_access("public")
@frameable
def iframe_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """An unknown route under /hint/: our 404 even with DEBUG on, whose page would print the URL
    and its session key. A route that exists with a trailing slash is redirected there first,
    as CommonMiddleware's APPEND_SLASH would have done without this catch-all."""
    path = request.path_info
    if settings.APPEND_SLASH and not path.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not iframe_not_found:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return page_not_found(request)
