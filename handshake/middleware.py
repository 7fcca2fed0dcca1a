"""Our 404 page for an Http404 raised inside a page under /hint/, even with DEBUG on.

With DEBUG on, Django answers an Http404 with its debug page, which prints the URL and so the
session key in its query. An unknown route under /hint/ already gets our page
(`error_pages.iframe_not_found`); this catches the rest: a view that raises Http404 (another
practice's record, a note that is gone). With DEBUG off it answers what `handler404` would.
"""

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse

from handshake.error_pages import page_not_found

IFRAME_PREFIX = "/hint/"


class HintNotFoundMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and request.path_info.startswith(IFRAME_PREFIX):
            return page_not_found(request, exception)
        return None
