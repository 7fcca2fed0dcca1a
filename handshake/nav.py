"""The app's one header navigation: settings.HINT_NAV filtered by the session's permissions."""

from dataclasses import dataclass
from fnmatch import fnmatchcase

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from handshake.links import url_with_session


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


def _entry(raw: tuple) -> tuple[str, str, str | None, tuple[str, ...]]:
    # (label, URL name[, permission[, URL-name patterns of the pages in its section]])
    label, name, *rest = raw
    permission = rest[0] if rest else None
    sections = tuple(rest[1]) if len(rest) > 1 else ()
    return label, name, permission, sections


def nav_items(request: HttpRequest | None) -> list[NavItem]:
    """The links this session may use, the one for the current page's section marked.

    A link is shown only when the session holds its permission: a link that would answer 403
    is not a way forward. No session, no links (the page says to reopen the app from Hint).
    """
    hint = getattr(request, "hint", None)
    if hint is None:
        return []
    match = getattr(request, "resolver_match", None)
    view = match.view_name if match else ""
    items: list[NavItem] = []
    marked = False
    for raw in settings.HINT_NAV:
        label, name, permission, sections = _entry(raw)
        if permission and not hint.has(permission):
            continue
        try:
            url = url_with_session(reverse(name), hint.session_key)
        except NoReverseMatch:
            continue
        current = not marked and (view == name or any(fnmatchcase(view, p) for p in sections))
        marked = marked or current
        items.append(NavItem(label=label, url=url, current=current))
    return items
