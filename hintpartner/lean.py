"""Lean WSGI routes: a few machine-to-machine URLs answered without the pages' middleware.

`settings.WSGI_LEAN_ROUTES` maps a URL name to a WSGI callable (dotted paths, so this package
imports no app). A request takes the lean route only when it is a POST to that exact path, for an
allowed host, and (where HTTPS is required) arrived over HTTPS; anything else goes to Django,
which answers it as it would any other URL (405, 400 for a bad host, the HTTPS redirect).
"""

import functools
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


@functools.lru_cache(maxsize=256)
def _host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Django's host check (what `HttpRequest.get_host` refuses with a 400), remembered per
    Host header and setting: the same few hosts arrive on every request."""
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed_hosts)


def _takes_lean_route(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    if not _host_allowed(environ.get("HTTP_HOST", ""), tuple(settings.ALLOWED_HOSTS)):
        return False
    return _secure(environ) or not settings.SECURE_SSL_REDIRECT


@contextmanager
def django_request() -> Iterator[None]:
    """What a lean route needs of Django's request signals: database connection upkeep
    (`close_old_connections`: CONN_MAX_AGE, and connections an error left unusable) after its
    work.

    Django also runs the upkeep before a request; after the previous request's, that one only
    finds a connection that aged past CONN_MAX_AGE while idle, which is then closed one request
    later (still open and usable until then). The signals' other receivers reset what a lean
    route never sets (the URLconf, cache connections, the DEBUG query log).
    """
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
_ENCODED: dict[tuple[Any, ...], tuple[str, bytes]] = {}


def _encoded(status: int, body_data: dict[str, Any]) -> tuple[str, bytes]:
    """The status line and JSON body of an answer. Answers without a value of their own (most
    of them: "received", a refusal's fixed message) are encoded once."""
    try:
        key = (status, *body_data.items())
        return _ENCODED[key]
    except (KeyError, TypeError):  # not seen yet, or a value that cannot be a key
        pass
    encoded = f"{status} {HTTPStatus(status).phrase}", json.dumps(body_data).encode()
    if len(_ENCODED) < 64 and all(isinstance(v, bool | int | None) for v in body_data.values()):
        _ENCODED[key] = encoded
    return encoded


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
        status_line, body = _encoded(status, body_data)
        start_response(
            status_line,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                *(headers(environ) if headers is not None else []),
            ],
        )
        return [body]

    return receive
