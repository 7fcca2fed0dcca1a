"""The bound: a bare WSGI app doing only what a handshake or a webhook cannot skip.

    gunicorn bench.bound:application        (BOUND_DATABASE_URL, BOUND_SECRET in the environment)

- POST /hint/webhooks: HMAC check, JSON parse, one `INSERT … ON CONFLICT DO NOTHING` of the
  event id; 200.
- POST /hint/handshake: HMAC check, JSON parse, one statement storing the replay digest and a
  session row (key hash) together, refusing a replay; answers a session key.
- GET /healthz: 200.

No Django, no middleware, one autocommitted psycopg connection per thread. The benchmarks run it
under the same gunicorn settings as the app, interleaved with it, and report the app's figures as
a ratio of this one's (the machine's speed drifts; a ratio in the same run does not).
"""

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

SECRET = os.environ.get("BOUND_SECRET", "").encode()
DATABASE_URL = os.environ.get("BOUND_DATABASE_URL", "")
SCHEMA = """
CREATE TABLE IF NOT EXISTS bound_event (event_id text PRIMARY KEY, body jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bound_session (
    id bigserial PRIMARY KEY, digest text UNIQUE NOT NULL, key_hash text NOT NULL,
    practice text NOT NULL, hint_user text NOT NULL, token text NOT NULL
);
"""
_local = threading.local()


def _db() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DATABASE_URL, autocommit=True)
    return conn


def schema_create(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)


def _verified(environ: dict[str, Any]) -> tuple[bytes, Any] | None:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(
        environ.get("HTTP_X_HINT_SIGNATURE", "").encode(), expected.encode()
    ):
        return None
    return body, json.loads(body)


def _webhook(body: bytes, payload: Any) -> tuple[int, bytes]:
    _db().execute(
        "INSERT INTO bound_event (event_id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (payload["id"], body.decode()),
    )
    return 200, b'{"status": "ok"}'


def _handshake(body: bytes, payload: Any) -> tuple[int, bytes]:
    key = secrets.token_urlsafe(32)
    row = (
        _db()
        .execute(
            "INSERT INTO bound_session (digest, key_hash, practice, hint_user, token) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING RETURNING id",
            (
                hashlib.sha256(body).hexdigest(),
                hashlib.sha256(key.encode()).hexdigest(),
                payload["practice"]["id"],
                payload["user"]["id"],
                payload.get("access_token", ""),
            ),
        )
        .fetchone()
    )
    if row is None:
        return 401, b'{"error": "replay"}'
    return 200, json.dumps({"session_key": key}).encode()


ROUTES = {"/hint/webhooks": _webhook, "/hint/handshake": _handshake}


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        status, answer = 200, b"ok"
    elif environ.get("REQUEST_METHOD") == "POST" and path in ROUTES:
        verified = _verified(environ)
        status, answer = (401, b"{}") if verified is None else ROUTES[path](*verified)
    else:
        status, answer = 404, b"{}"
    start_response(
        f"{status} {'OK' if status == 200 else 'Refused'}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
    )
    return [answer]
