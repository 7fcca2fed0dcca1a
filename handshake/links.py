"""URLs that carry the Hint session key (links, redirects)."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse


def url_with_session(url: str, session_key: str, **query: Any) -> str:
    """`url` with the session key (and any extra query parameters) appended."""
    params = {k: v for k, v in query.items() if v not in (None, "")}
    if session_key:
        params = {"session_key": session_key, **params}
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


def redirect_with_session(
    request: HttpRequest, viewname: str, *args: Any, **kwargs: Any
) -> HttpResponseRedirect:
    """Redirect to a named URL, carrying the current session key (303 after a POST)."""
    hint = getattr(request, "hint", None)
    url = url_with_session(
        reverse(viewname, args=args, kwargs=kwargs), hint.session_key if hint else ""
    )
    response = HttpResponseRedirect(url)
    if request.method == "POST":
        response.status_code = 303
    return response
