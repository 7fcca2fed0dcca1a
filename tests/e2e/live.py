"""Live processes for end-to-end tests: the app (+ its worker) and the sandbox, on free ports.

Every process gets its own temporary SQLite file and the same freshly generated secrets through
environment variables, so nothing touches the developer's `db.sqlite3`, `sandbox.sqlite3` or
`.dev-secrets.json` values. Processes run in their own process group and are killed at the end.
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
T = TypeVar("T")

# Seeded by `sandbox_seed` (sandbox/seeddata.py).
PRACTICE_A = "pra-sbx-maple"
PRACTICE_B = "pra-sbx-riverside"
USERS = {
    "admin": "user-sbx-admin",
    "clinician": "user-sbx-clinician",
    "staff": "user-sbx-staff",
    "multi": "user-sbx-multi",
    "norole": "user-sbx-norole",
    "support": "user-sbx-support",
}
# Variables of the test run that must not leak into the live processes.
_DROP = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "TEST_TASKS_BACKEND")


def free_port() -> int:
    """A port nobody listens on right now (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HINT_WEBHOOK_SECRET": secrets.token_hex(32),
        "HINT_API_KEY": "sbx-partner-e2e-" + secrets.token_urlsafe(16),
        "HINT_PARTNER_ID": "ptr-e2e",
        "HINT_PRODUCT_ID": "ppro-e2e",
    }


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `predicate` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except (requests.RequestException, AssertionError, KeyError, IndexError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s; last result: {last!r}")
        time.sleep(interval)


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class Processes:
    """Processes started here, each in its own session (process group); logs in `workdir`."""

    workdir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, env: dict[str, str], *args: str) -> None:
        log = self.workdir / "setup.log"
        with log.open("a") as out:
            done = subprocess.run(
                [PY, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=out, check=False
            )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{log.read_text()[-3000:]}")

    def start(self, name: str, env: dict[str, str], *args: str) -> None:
        out = (self.workdir / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen(
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, name: str, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _healthy(url):
                return
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not become healthy at {url}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def base_env(shared: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(shared)
    env["PYTHONUNBUFFERED"] = "1"
    env["LOG_LEVEL"] = "WARNING"
    return env


def sandbox_start(
    procs: Processes,
    shared: dict[str, str],
    *,
    app_url: str,
    port: int | None = None,
    patients: int = 50,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Migrate, seed and start a sandbox on a free port; its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(shared)
    env.update(
        {
            "SANDBOX_DATABASE_URL": f"sqlite:///{procs.workdir / 'sandbox.sqlite3'}",
            "SANDBOX_URL": url,
            "SANDBOX_WEBHOOK_BACKOFF": "0.5",
            "SANDBOX_WEBHOOK_BACKOFF_MAX": "2",
            **(extra_env or {}),
        }
    )
    procs.run(env, "sandbox_migrate")
    procs.run(env, "sandbox_seed", "--patients", str(patients))
    procs.start("sandbox", env, "runsandbox", "--port", str(port), "--app-url", app_url)
    procs.wait_healthy("sandbox", f"{url}/healthz")
    return url


def app_start(
    procs: Processes, shared: dict[str, str], *, sandbox_url: str, port: int | None = None
) -> str:
    """Migrate and start the app (runserver) and its worker, configured for the sandbox."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(shared)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
            "DJANGO_ENV": "development",
            "DATABASE_URL": f"sqlite:///{procs.workdir / 'app.sqlite3'}",
            "HINT_API_URL": sandbox_url,
            "SANDBOX_URL": sandbox_url,
            "APP_URL": url,
            "HINT_FRAME_ANCESTORS": f"https://*.hint.com {sandbox_url}",
            "HINT_BACKOFF_BASE": "0.05",
        }
    )
    procs.run(env, "migrate", "--no-input", "-v", "0")
    procs.start("app", env, "runserver", f"127.0.0.1:{port}", "--noreload")
    procs.start("worker", env, "worker")
    procs.wait_healthy("app", f"{url}/healthz")
    return url


@dataclass
class LiveStack:
    """The running app + worker + sandbox. See `tests/e2e/conftest.py::live_stack`."""

    app_url: str
    sandbox_url: str
    secrets: dict[str, str]
    processes: Processes
    last_install: dict[str, Any] = field(default_factory=dict)

    # --- sandbox control (what a person does on the host page) --------------------------------
    def control(self, name: str, payload: dict[str, Any] | None = None) -> requests.Response:
        url = f"{self.sandbox_url}/_sandbox/{name}"
        if payload is None:
            return requests.get(url, timeout=30)
        return requests.post(url, json=payload, timeout=60)

    def partner(self) -> requests.Session:
        """A session with the partner key and `Hint-Version: marketplace_endpoints`."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.secrets['HINT_API_KEY']}"
        session.headers["Hint-Version"] = "marketplace_endpoints"
        return session

    def installation(self, practice: str) -> dict[str, Any] | None:
        """The practice's current (not deactivated) installation, read via the Partner API."""
        rows = (
            self.partner()
            .get(f"{self.sandbox_url}/api/partner/installations", params={"limit": 100}, timeout=10)
            .json()
        )
        current = [
            r for r in rows if r["practice"]["id"] == practice and r["status"] != "deactivated"
        ]
        return current[-1] if current else None

    def practice_token(self, practice: str) -> str | None:
        installation = self.installation(practice)
        return installation["api_keys"][0]["token"] if installation else None

    def install(self, practice_hint_id: str, mode: str = "instant") -> str:
        """Install the app for a practice (the sandbox posts the code to the app's
        /hint/connect/<code>); the practice token. An installation that is already active is
        kept; one in another state is uninstalled first. `last_install` holds the sandbox's
        answer (e.g. what the app answered to the code)."""
        current = self.installation(practice_hint_id)
        if current and (current["status"] != "active" or mode != "instant"):
            self.uninstall(practice_hint_id)
            current = None
        if current is None:
            response = self.control("install", {"practice": practice_hint_id, "mode": mode})
            if response.status_code != 201:
                raise AssertionError(f"install failed: {response.status_code} {response.text}")
            self.last_install = response.json()
        token = self.practice_token(practice_hint_id)
        assert token, f"no installation for {practice_hint_id}"
        return token

    def uninstall(self, practice_hint_id: str) -> None:
        self.control("uninstall", {"practice": practice_hint_id}).raise_for_status()

    def handshake(
        self,
        practice: str,
        user: str,
        surface: str,
        patient_id: str | None = None,
        interaction_id: str | None = None,
    ) -> str:
        """Open a surface as Hint does (signed server-side handshake); the iframe URL."""
        response = self.control(
            "handshake",
            {
                "practice": practice,
                "user": USERS.get(user, user),
                "surface": surface,
                "patient_id": patient_id or "",
                "interaction_id": interaction_id or "",
            },
        )
        if response.status_code != 200:
            raise AssertionError(f"handshake refused: {response.status_code} {response.text}")
        return str(response.json()["iframe_url"])

    def provider(self, practice: str) -> requests.Session:
        """A session on the Provider API with the practice's token (installing it if needed).
        Use full URLs: `s.get(stack.sandbox_url + "/api/provider/patients")`."""
        token = self.install(practice)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    def patients(self, practice: str, **params: Any) -> list[dict[str, Any]]:
        response = self.provider(practice).get(
            f"{self.sandbox_url}/api/provider/patients", params=params, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def trigger(
        self, practice: str, kind: str, patient_id: str = "", fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Change a patient in the sandbox (create/update/delete/deactivate) → a webhook."""
        response = self.control(
            "trigger",
            {"practice": practice, "kind": kind, "patient_id": patient_id, "fields": fields or {}},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Recent webhook events and their delivery attempts, newest first."""
        url = f"{self.sandbox_url}/_sandbox/events" + (f"?type={type}" if type else "")
        return requests.get(url, timeout=10).json()

    @contextlib.contextmanager
    def faults(self, **values: Any) -> Iterator[None]:
        """Set faults/switches for the block, restore them after (e.g. rate_limit_per_second)."""
        before = self.control("faults").json()
        response = self.control("faults", values)
        assert response.status_code == 200, response.text
        try:
            time.sleep(0.6)  # the API re-reads the configuration twice a second
            yield
        finally:
            self.control("faults", {k: before[k] for k in values})
            time.sleep(0.6)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        return wait_for(predicate, timeout)
