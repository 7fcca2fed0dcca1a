"""The route table: every URL of the app with how it is reached and the permission it needs."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.urls import URLPattern, URLResolver

# How a route is reached, recorded on its view (`view.hint_route_access`) and checked against the
# whole URLconf by tests/test_route_table.py: "session" (handshake.decorators.hint_session, with
# the permission in `view.hint_permission`), "signed" (Hint's HMAC), "public", or "django_admin".
ROUTE_ACCESS = ("session", "signed", "public", "django_admin")

# Django's admin is one entry: it guards every page of its own with the staff login.
DJANGO_ADMIN_NAMESPACE = "admin"


def route_access(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare how a route outside Hint's iframe is reached: "public" or "signed"."""
    if kind not in ("public", "signed"):
        raise ValueError(f"route_access({kind!r}): iframe views use @hint_session.")

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.hint_route_access = kind  # type: ignore[attr-defined]
        return view

    return mark


@dataclass(frozen=True)
class Route:
    """One URL pattern: its path, its namespaced name, and what its view declared."""

    path: str
    name: str
    view: Callable[..., Any] | None
    access: str | None  # None: nothing declared
    permission: object = None


def routes_walk(patterns: Iterable[URLPattern | URLResolver], prefix: str = "") -> list[Route]:
    """Every route under `patterns` (e.g. `get_resolver().url_patterns`), includes flattened."""
    found: list[Route] = []
    for entry in patterns:
        path = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace == DJANGO_ADMIN_NAMESPACE:
                found.append(Route(path, DJANGO_ADMIN_NAMESPACE, None, "django_admin"))
                continue
            namespace = f"{entry.namespace}:" if entry.namespace else ""
            found += [
                replace(route, name=namespace + route.name)
                for route in routes_walk(entry.url_patterns, path)
            ]
            continue
        view = entry.callback
        found.append(
            Route(
                path,
                entry.name or "",
                view,
                getattr(view, "hint_route_access", None),
                getattr(view, "hint_permission", None),
            )
        )
    return found


def routes_undeclared(routes: Iterable[Route]) -> list[Route]:
    """The routes whose view declares no access: each is a test failure."""
    return [route for route in routes if route.access is None]
