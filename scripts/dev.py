"""`make run`: migrate, seed the sandbox, start the app, its worker and the sandbox.

Embedded defaults only: SQLite files beside the code and the database task queue. Ctrl-C stops
all three processes.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
APP_PORT = int(os.environ.get("APP_PORT", "8000"))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "8001"))
APP_URL = f"http://127.0.0.1:{APP_PORT}"
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
HAS_SANDBOX = (ROOT / "sandbox" / "__init__.py").exists()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_ENV", "development")
    env.setdefault("APP_URL", APP_URL)
    env.setdefault("SANDBOX_URL", SANDBOX_URL)
    env.setdefault("HINT_API_URL", SANDBOX_URL)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=_env(), check=True)


def _start(name: str, *args: str) -> subprocess.Popen:
    print(f"starting {name}: manage.py {' '.join(args)}", flush=True)
    return subprocess.Popen([PY, "manage.py", *args], cwd=ROOT, env=_env(), start_new_session=True)


def _wait_for(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    _manage("migrate", "--no-input", "-v", "0")
    if HAS_SANDBOX:
        _manage("sandbox_migrate")
        _manage("sandbox_seed", "--if-empty")
    procs = {
        "app": _start("app", "runserver", f"127.0.0.1:{APP_PORT}", "--noreload"),
        "worker": _start("worker", "worker"),
    }
    if HAS_SANDBOX:
        procs["sandbox"] = _start(
            "sandbox", "runsandbox", "--port", str(SANDBOX_PORT), "--app-url", APP_URL
        )

    def stop(*_: object) -> None:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        ok = _wait_for(f"{APP_URL}/healthz")
        if HAS_SANDBOX:
            ok = ok and _wait_for(f"{SANDBOX_URL}/healthz")
        if not ok:
            print("Something did not start; see the messages above.", flush=True)
        open_url = SANDBOX_URL if HAS_SANDBOX else f"{APP_URL}/healthz"
        print("\n" + "=" * 64)
        print(f"  hintpartner is running. Open {open_url}")
        if HAS_SANDBOX:
            print("  (the sandbox: a local Hint with practices, users and patients)")
        print("  Ctrl-C stops the app, its worker and the sandbox.")
        print("=" * 64 + "\n", flush=True)
        while True:
            time.sleep(0.5)
            # The worker exits non-zero when its task loop cannot go on (or a task ran past its
            # timeout): start it again, as a supervisor would in production.
            if procs["worker"].poll() not in (None, 0):
                print("worker exited with an error; starting it again", flush=True)
                procs["worker"] = _start("worker", "worker")
            if not all(p.poll() is None for p in procs.values()):
                break
        dead = [name for name, p in procs.items() if p.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; stopping the rest.", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
