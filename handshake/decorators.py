"""`@hint_session`: the only way a view inside Hint's iframe learns who is asking."""

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt

from handshake import services
from handshake.audit import Actor, audit_record
from handshake.context import HintContext, HintRequest
from handshake.roles import PERMISSION_LABELS, roles_granting
from hintpartner.security import frameable

__all__ = ["HintContext", "HintRequest", "hint_session", "session_key_from"]

# One permission, or one per method when reading and changing differ (GET shows, POST changes).
Permission = str | Mapping[str, str] | None

SESSION_KEY_PARAM = "session_key"
SESSION_KEY_HEADER = "HTTP_X_HINT_SESSION_KEY"


def session_key_from(request: HttpRequest) -> str:
    """The raw key from the query, a form field, or the X-Hint-Session-Key header."""
    key = request.GET.get(SESSION_KEY_PARAM) or ""
    if not key and request.method == "POST":
        key = request.POST.get(SESSION_KEY_PARAM) or ""
    if not key:
        key = request.META.get(SESSION_KEY_HEADER) or ""
    return key.strip()


def reopen_response(request: HttpRequest) -> HttpResponse:
    """401: no live session; the user must open the app again from Hint."""
    response = render(request, "handshake/reopen.html", status=401)
    if getattr(request, "htmx", False):
        # A partial cannot show the page; reloading the whole surface shows it.
        response["HX-Refresh"] = "true"
    return response


def denial_response(request: HttpRequest, permission: str | None) -> HttpResponse:
    """403: the page names what is missing and the role a practice admin can assign in Hint."""
    hint: HintContext = request.hint  # type: ignore[attr-defined]
    support_read_only = hint.is_support and permission is not None
    context = {
        "permission": permission,
        "what": PERMISSION_LABELS.get(permission or "", "use this app"),
        "roles": roles_granting(permission),
        "no_roles": not hint.permissions,
        "support_read_only": support_read_only,
    }
    template = (
        "handshake/_denied.html" if getattr(request, "htmx", False) else "handshake/denied.html"
    )
    return render(request, template, context, status=403)


def _denial_record(request: HttpRequest, hint: HintContext, permission: str | None) -> None:
    """A refused attempt is part of the audit trail (the Activity page shows who tried what)."""
    audit_record(
        practice=hint.practice,
        actor=Actor.from_hint(hint),
        action="access.denied",
        detail=f"{request.method} {request.path} needs {permission or 'a role'}",
    )


def _cookies_suppress(request: HttpRequest, response: HttpResponse) -> None:
    """Inside Hint's iframe a cookie would be blocked or partitioned, and identity never rides on
    one: drop any a view set, and stop the CSRF and session middleware from adding theirs."""
    response.cookies.clear()
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False
    session = getattr(request, "session", None)
    if session is not None:
        session.modified = False


def _needed(permission: Permission, method: str) -> str | None:
    if isinstance(permission, Mapping):
        # A method the map does not name needs the changing permission (require_* answers 405
        # first for the methods a view does not take).
        return permission.get(method) or permission.get("POST")
    return permission


def hint_session(
    permission: Permission = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a live Hint session (401 otherwise) and `permission` (403 otherwise).

    `permission` is one name, or a map of method to name ({"GET": "view_settings", "POST":
    "administer"}). Without it, the session's user must hold at least one role. The view gets
    `request.hint` (a HintContext); the permission is recorded on the view for the route table.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            key = session_key_from(request)
            session = services.session_resolve(key=key) if key else None
            if session is None:
                response = reopen_response(request)
            else:
                hint = services.context_build(session=session, key=key)
                request.hint = hint  # type: ignore[attr-defined]
                needed = _needed(permission, request.method or "GET")
                allowed = hint.has(needed) if needed else bool(hint.permissions)
                if allowed:
                    response = view(request, *args, **kwargs)
                else:
                    _denial_record(request, hint, needed)
                    response = denial_response(request, needed)
            # Pages carry a session key and patient data: never cache them anywhere.
            patch_cache_control(response, private=True, no_store=True)
            _cookies_suppress(request, response)
            return response

        wrapper.hint_route_access = "session"  # type: ignore[attr-defined]
        wrapper.hint_permission = permission  # type: ignore[attr-defined]

        # These views are authenticated by the key that the request itself carries (query, form
        # field or header), never by a cookie, so a cross-site request cannot borrow the user's
        # identity and cookie-based CSRF protection does not apply: this is where it is decided.
        return frameable(csrf_exempt(wrapper))

    return decorate
