"""CORS for the handshake in localhost mode: only Hint's portals may read the answer."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse


def _matches(origin: str, pattern: str) -> bool:
    if "://*." not in pattern:
        return origin == pattern.rstrip("/").lower()
    scheme, suffix = pattern.lower().split("://*.", 1)
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        parts.scheme == scheme
        and port is None
        and parts.path == ""
        and not parts.query
        and host.endswith("." + suffix.rstrip("/"))
        and origin == f"{scheme}://{host}"
    )


def origin_allowed(origin: str) -> bool:
    """True when `origin` is listed: exactly, or as an https host under a `https://*.` pattern."""
    origin = (origin or "").strip().lower()
    if not origin or origin == "null":
        return False
    patterns = [*settings.HINT_CORS_ALLOWED_ORIGINS, *settings.HINT_CORS_EXTRA_ORIGINS]
    return any(_matches(origin, p.strip()) for p in patterns if p.strip())


def preflight_headers(response: HttpResponse, *, private_network: bool) -> None:
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, X-Hint-Signature"
    response["Access-Control-Max-Age"] = "600"
    if private_network:
        # Chrome asks before an https page may call a server on the developer's laptop.
        response["Access-Control-Allow-Private-Network"] = "true"
