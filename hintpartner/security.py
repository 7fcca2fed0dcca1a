"""Content-Security-Policy and framing: our pages load only our own code and Hint's SDK, and
only Hint may frame them.

The policy is django-csp's (`CONTENT_SECURITY_POLICY` in settings). What depends on where Hint
is, is added per response from settings: the origin of Hint's SDK (`hint_sdk_url()`, the
sandbox's in development and tests) joins `script-src`.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.clickjacking import xframe_options_exempt


def hint_sdk_url() -> str:
    """Where pages load Hint's Marketplace JS SDK from: `/hint-sdk.js` on Hint's API host."""
    return f"{settings.HINT_API_URL}/hint-sdk.js"


def hint_sdk_origin() -> str:
    parts = urlsplit(hint_sdk_url())
    return f"{parts.scheme}://{parts.netloc}"


class HintCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with Hint's SDK origin allowed in `script-src`."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only:
            update = dict(parts.update or {})
            extra = update.get("script-src") or []
            update["script-src"] = [
                hint_sdk_origin(),
                *([extra] if isinstance(extra, str) else extra),
            ]
            parts.update = update
        return parts


def frameable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view as meant for Hint's iframe: no X-Frame-Options, CSP frame-ancestors only."""
    return xframe_options_exempt(view)
