"""Framing rules: our pages may be framed by Hint only."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.clickjacking import xframe_options_exempt


class FrameAncestorsMiddleware:
    """Send `Content-Security-Policy: frame-ancestors` from HINT_FRAME_ANCESTORS on every page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = "frame-ancestors " + " ".join(settings.HINT_FRAME_ANCESTORS or ["'none'"])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


def frameable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view as meant for Hint's iframe: no X-Frame-Options, CSP frame-ancestors only."""
    return xframe_options_exempt(view)
