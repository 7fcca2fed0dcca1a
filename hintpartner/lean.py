"""Lean WSGI routes: a few machine-to-machine URLs answered without the pages' middleware.

`settings.WSGI_LEAN_ROUTES` maps a URL name to a WSGI callable (dotted paths, so this package
imports no app). A request takes the lean route only when it is a POST to that exact path, for an
allowed host, and (where HTTPS is required) arrived over HTTPS; anything else goes to Django,
which answers it as it would any other URL (405, 400 for a bad host, the HTTPS redirect).
"""

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.module_loading import import_string

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _secure(environ: dict[str, Any]) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    return bool(header) and environ.get(header[0]) == header[1]


def _takes_lean_route(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    domain, _port = split_domain_port(environ.get("HTTP_HOST", ""))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return _secure(environ) or not settings.SECURE_SSL_REDIRECT


@contextmanager
def django_request() -> Iterator[None]:
    """What a lean route needs of Django's request signals: database connection upkeep
    (`close_old_connections`, CONN_MAX_AGE and broken connections) before and after its work.

    The signals' other receivers reset what a lean route never sets (the URLconf, cache
    connections, the DEBUG query log); sending them cost more than the upkeep itself.
    """
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()


def lean_routes(django_app: WSGIApp) -> WSGIApp:
    """Wrap Django's WSGI application with the configured lean routes."""
    routes = {
        reverse(name): import_string(dotted) for name, dotted in settings.WSGI_LEAN_ROUTES.items()
    }

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        handler = routes.get(environ.get("PATH_INFO", ""))
        if handler is not None and _takes_lean_route(environ):
            return handler(environ, start_response)
        return django_app(environ, start_response)

    return application


Answer = tuple[int, dict[str, Any]]


def json_route(
    answer: Callable[..., Answer],
    *,
    failed: Answer,
    logger: logging.Logger,
    headers: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None,
) -> WSGIApp:
    """A lean route for a signed POST answered with a line of JSON.

    `answer(declared_length=, read_body=, signature=)` is the function the Django view answers
    from too, so both give the same answer to the same bytes; `failed` is what an unexpected
    error answers (its detail goes to `logger`, never to the caller); `headers(environ)` adds
    headers of the route's own.
    """

    def receive(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with django_request():
            try:
                stream = environ["wsgi.input"]
                status, body_data = answer(
                    declared_length=environ.get("CONTENT_LENGTH"),
                    read_body=lambda size: stream.read(size) if size else b"",
                    signature=environ.get("HTTP_X_HINT_SIGNATURE"),
                )
            except Exception:
                logger.exception("%s could not be answered", environ.get("PATH_INFO", ""))
                status, body_data = failed
        body = json.dumps(body_data).encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                *(headers(environ) if headers is not None else []),
            ],
        )
        return [body]

    return receive
