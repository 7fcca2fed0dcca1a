"""Our 404, 403 and 500 pages (hintpartner.urls names them as handler404/403/500).

Plain words in the 1024x768 frame, the app's links when the request carries a live session, and
never the path, the query (which holds the session key), an id or an exception's text. They live
here because finding the request's session is this app's business.
"""

from django.conf import settings
from django.db import DatabaseError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
)
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control

from handshake import services
from handshake.decorators import session_key_from
from handshake.nav import nav_items
from hintpartner.routes import route_access
from hintpartner.security import frameable, hint_sdk_url


def _hint_for(request: HttpRequest) -> object | None:
    """The request's live Hint session: the one its @hint_session view attached, else its key's."""
    hint = getattr(request, "hint", None)
    if hint is not None:
        return hint
    key = session_key_from(request)
    try:
        session = services.session_resolve(key=key) if key else None
    except DatabaseError:
        return None
    if session is None:
        return None
    request.hint = services.context_build(session=session, key=key)  # type: ignore[attr-defined]
    return request.hint  # type: ignore[attr-defined]


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    hint = _hint_for(request)
    response = render(request, template, status=status)
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
    try:
        nav = nav_items(request)
        context = {"hint": hint, "nav": nav, "nonce": nonce, "HINT_SDK_URL": hint_sdk_url()}
        body = loader.get_template("500.html").render(context)
    except Exception:  # the error page must not fail in turn: plain words without links
        body = loader.get_template("500.html").render({"hint": None, "nav": [], "nonce": nonce})
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
