"""Production smoke: the image's static build, served by gunicorn with production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:54329/hintpartner_smoke .venv/bin/python \
        scripts/prod_smoke.py

Builds static files exactly as the Dockerfile does (scripts/build_static.sh), recreates the
database named in DATABASE_URL (PostgreSQL) and migrates it, opens a session through the signed
handshake over HTTP, seeds a contact and a note with the tests' builders, starts gunicorn (the
Dockerfile's command, deploy/gunicorn.conf.py) and a worker with DJANGO_ENV=production, and checks
every page's status; any 500 or unexpected status fails the run. Requests carry
`X-Forwarded-Proto: https`, as the TLS proxy in front of production does.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from psycopg import sql  # noqa: E402

from hintpartner.hint import signing  # noqa: E402

PYTHON = sys.executable
BIN = Path(PYTHON).parent
PRACTICE = "pra-smoke"
PATIENT = "pat-smoke"
HTTPS = {"X-Forwarded-Proto": "https"}
REOPEN = "Please open this app again from Hint"

failures: list[str] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(database_url: str, port: int) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HINT_", "DJANGO", "SECRET", "DEBUG", "REDIS_URL", "SANDBOX"))
    }
    return {
        **inherited,
        "DJANGO_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
        "SECRET_KEY": Fernet.generate_key().decode() + Fernet.generate_key().decode(),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HINT_API_KEY": "smoke-partner-key",
        "HINT_WEBHOOK_SECRET": Fernet.generate_key().decode(),
        "HINT_PRODUCT_ID": "ppro-smoke",
        # Nothing listens there: a page that needed Hint would show it, not hang.
        "HINT_API_URL": "http://127.0.0.1:9",
        "HINT_CONNECT_TIMEOUT": "1",
        "HINT_MAX_RETRIES": "0",
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "APP_URL": f"https://127.0.0.1:{port}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WORKER_HEARTBEAT_STALE_SECONDS": "60",
    }


def _database_recreate(database_url: str) -> None:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or not name:
        sys.exit(f"DATABASE_URL must name a PostgreSQL database (got {parts.scheme}://…)")
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextmanager
def _processes(env: dict[str, str], log_dir: Path) -> Iterator[None]:
    started: list[subprocess.Popen] = []
    # The Dockerfile's CMD, and its worker command.
    commands = {
        "gunicorn": [
            str(BIN / "gunicorn"),
            "hintpartner.wsgi:application",
            "--config",
            "deploy/gunicorn.conf.py",
        ],
        "worker": [PYTHON, "manage.py", "worker"],
    }
    try:
        for name, command in commands.items():
            log = (log_dir / f"{name}.log").open("w")
            started.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class App:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        url = path + ("?" + urlencode(query) if query else "")
        conn.request(method, url, body=body, headers={"Host": "127.0.0.1", **(headers or {})})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def wait_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit("gunicorn did not answer /healthz within a minute (see its log above)")


def check(
    app: App, label: str, path: str, expected: int, *, key: str = "", contains: str = "", **kw: str
) -> tuple[int, dict[str, str], str]:
    """GET `path` over the TLS proxy's header; the status must be `expected`, never 500."""
    query = {"session_key": key} if key else None
    status, headers, text = app.request("GET", path, query=query, headers=HTTPS)
    ok = status == expected and (not contains or contains in text)
    if status == 200 and "strict-transport-security" not in headers:
        ok = False
        label += " (no HSTS header)"
    print(f"  {'ok  ' if ok else 'FAIL'} {status} {path}{' (with session)' if key else ''} {label}")
    if not ok:
        failures.append(f"{path}: expected {expected}, got {status} {label}")
    return status, headers, text


def _handshake(app: App, secret: str) -> str:
    payload = {
        "user": {
            "id": "user-smoke",
            "email": "smoke@example.test",
            "first_name": "Smoke",
            "last_name": "Tester",
            "partner_roles": ["admin", "clinician"],
        },
        "practice": {"id": PRACTICE, "name": "Smoke Practice"},
        "patient": {"id": PATIENT},
        "access_context": "standard",
        "access_token": "smoke-session-token",
        "timestamp": int(time.time()),
    }
    body = json.dumps(payload).encode()
    status, _, text = app.request(
        "POST",
        "/hint/handshake",
        body=body,
        headers={
            **HTTPS,
            "Content-Type": "application/json",
            signing.SIGNATURE_HEADER: signing.sign(body, secret),
        },
    )
    if status != 200:
        sys.exit(f"signed handshake answered {status}: {text[:300]}")
    print(f"  ok   {status} POST /hint/handshake (signed): a session key")
    return json.loads(text)["session_key"]


# The tests' own builders (tests/sync/helpers.py, tests/interactions/conftest.py).
SEED = f"""
import json
from handshake.models import Practice
from tests.interactions.conftest import make_note
from tests.sync.helpers import make_contact
practice = Practice.objects.get(hint_id={PRACTICE!r})
contact = make_contact(practice, first_name="Smoke", last_name="Contact")
note = make_note(practice)
print(json.dumps({{"contact": contact.pk, "note": note.pk}}))
"""


def _checks(app: App, key: str, seeded: dict[str, int]) -> None:
    print("== /readyz (worker heartbeat)")
    deadline = time.monotonic() + 30
    status = 0
    while time.monotonic() < deadline:
        status, _, text = app.request("GET", "/readyz", headers=HTTPS)
        if status == 200:
            break
        time.sleep(0.5)
    print(f"  {'ok  ' if status == 200 else 'FAIL'} {status} /readyz {text}")
    if status != 200:
        failures.append(f"/readyz: {status} {text}")

    print("== without TLS header: redirected to https, except the health checks")
    status, headers, _ = app.request("GET", "/hint/core_page", query={"session_key": key})
    ok = status == 301 and headers.get("location", "").startswith("https://")
    print(f"  {'ok  ' if ok else 'FAIL'} {status} /hint/core_page over plain http")
    if not ok:
        failures.append(f"plain http /hint/core_page: expected 301 to https, got {status}")
    for path in ("/healthz", "/readyz"):
        status = app.request("GET", path)[0]
        print(f"  {'ok  ' if status == 200 else 'FAIL'} {status} {path} over plain http")
        if status != 200:
            failures.append(f"plain http {path}: expected 200, got {status}")

    print("== pages (X-Forwarded-Proto: https)")
    surfaces = ("core_page", "settings", "clinical_chart", "clinical_interaction")
    pages: dict[str, str] = {}
    for surface in surfaces:
        pages[surface] = check(app, "surface", f"/hint/{surface}", 200, key=key)[2]
        check(app, "surface: reopen from Hint", f"/hint/{surface}", 401, contains=REOPEN)
    check(app, "contact page", f"/hint/sync/contacts/{seeded['contact']}", 200, key=key)
    check(app, "contacts list", "/hint/sync/contacts/", 200, key=key)
    check(app, "note page", f"/hint/notes/{seeded['note']}/", 200, key=key)
    check(app, "note page: reopen from Hint", f"/hint/notes/{seeded['note']}/", 401)
    check(app, "our 404 page", "/hint/no-such-page", 404, key=key, contains="This page is not here")
    check(app, "admin login", "/admin/login/", 200)
    check(app, "admin: to its login", "/admin/", 302)

    print("== panels the surfaces load (htmx)")
    panel_urls = sorted(
        {u for page in pages.values() for u in re.findall(r'hx-get="([^"]+)"', page)}
    )
    for url in panel_urls:
        path = url.replace("&amp;", "&").split("?")[0]
        check(app, "panel", path, 200, key=key)

    print("== static files (whitenoise, hashed names from the manifest)")
    assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', pages["core_page"])))
    if not assets:
        failures.append("core_page names no /static/ asset")
    for asset in assets:
        hashed = re.search(r"\.[0-9a-f]{12}\.[a-z0-9]+$", asset)
        status, headers, _ = app.request("GET", asset, headers=HTTPS)
        ok = status == 200 and hashed and "max-age=315360000" in headers.get("cache-control", "")
        print(f"  {'ok  ' if ok else 'FAIL'} {status} {asset} ({headers.get('content-type')})")
        if not ok:
            failures.append(f"{asset}: {status}, hashed={bool(hashed)}, {headers}")


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL database this smoke may drop and recreate.")
    port = _free_port()
    env = _environment(database_url, port)

    print("== static files, as the Dockerfile builds them")
    print(" ", _run(["sh", "scripts/build_static.sh"], {**os.environ, "PYTHON": PYTHON}).strip())
    print(f"== database {urlsplit(database_url).path.lstrip('/')}: recreated and migrated")
    _database_recreate(database_url)
    _run([PYTHON, "manage.py", "migrate", "--no-input"], env)
    _run([PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    log_dir = Path(tempfile.mkdtemp(prefix="hintpartner-smoke-"))
    print(f"== gunicorn (deploy/gunicorn.conf.py) and worker on 127.0.0.1:{port}; logs {log_dir}")
    with _processes(env, log_dir):
        app = App(port)
        app.wait_up()
        key = _handshake(app, env["HINT_WEBHOOK_SECRET"])
        seeded = json.loads(_run([PYTHON, "manage.py", "shell", "-c", SEED], env).splitlines()[-1])
        _checks(app, key, seeded)

    gunicorn_log = (log_dir / "gunicorn.log").read_text()
    if key in gunicorn_log:
        failures.append("gunicorn's log holds the session key")
    if failures:
        print(f"== production smoke FAILED ({len(failures)}):", *failures, sep="\n  ")
        print("-- gunicorn log (tail) --\n" + "\n".join(gunicorn_log.splitlines()[-40:]))
        sys.exit(1)
    print("== production smoke passed")


if __name__ == "__main__":
    main()
