"""Batch sync against the sandbox at Hint's 100 req/s: patients -> contacts, and CSV -> patients.

    .venv/bin/python bench/sync/run.py                         # 1k and 10k patients, CSV of 1k
    .venv/bin/python bench/sync/run.py --sizes 1000,10000,100000 --csv 10000

One command: starts a sandbox (its own SQLite file, fresh secrets, a free loopback port, no
webhook delivery), seeds one practice per size, installs the app for it through the real code
exchange, then runs each measurement in a fresh child process (so peak RSS is per size) that
uses the app's own code (`sync.batch_control.batch_run`, the worker's task body) on a temporary app
database:
  patients -> contacts: 10% of the patients already have a contact with the same name and birth
    date (linked and merged), the rest get a new contact (option on). Reported: the time until
    every contact is in step (pass 1: reading Hint's pages) and the time of the write-back pass
    (one PATCH per new link: our integration fields), peak RSS, requests and 429s.
  CSV contacts -> patients: contacts created for --csv patients, uploaded as a CSV of ids:
    Hint requests per contact, elapsed vs the rate-limit bound (requests / 100 per second), 429s.
Everything it starts is stopped at the end.
"""

import argparse
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shared_secrets() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HINT_WEBHOOK_SECRET": secrets.token_hex(32),
        "HINT_API_KEY": "sbx-partner-bench-" + secrets.token_urlsafe(16),
        "HINT_PARTNER_ID": "ptr-bench",
        "HINT_PRODUCT_ID": "ppro-bench",
    }


def _env(shared: dict[str, str], **extra: str) -> dict[str, str]:
    drop = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(shared)
    env.update({"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", **extra})
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


# --- orchestrator ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--csv", type=int, default=1000, help="contacts in the CSV batch (0: skip)")
    parser.add_argument(
        "--writeback-max",
        type=int,
        default=1000,
        help="run the write-back pass only up to this size (it is one sequential PATCH per link)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    shared = shared_secrets()
    workdir = Path(tempfile.mkdtemp(prefix="hintbench-sync."))
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    senv = _env(
        shared,
        SANDBOX_DATABASE_URL=f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        SANDBOX_URL=sandbox_url,
    )
    _manage(senv, "sandbox_migrate")
    runs = [("patients", f"pra-bench-{n}", n) for n in sizes]
    if args.csv:
        runs.append(("csv", f"pra-bench-csv-{args.csv}", args.csv))
    for _kind, practice, n in runs:
        started = time.monotonic()
        _manage(senv, "sandbox_seed", "--practice", practice, "--patients", str(n), "--seed", "7")
        print(f"seeded {n} patients in {time.monotonic() - started:.1f} s", flush=True)
    with running_sandbox(senv, port, workdir / "sandbox.log"):
        for kind, practice, n in runs:
            extra = [] if n <= args.writeback_max else ["--skip-writeback"]
            _child(shared, workdir, sandbox_url, kind, practice, n, extra)
    print(f"(work files in {workdir})")


@contextmanager
def running_sandbox(env: dict[str, str], port: int, log_path: Path) -> Iterator[None]:
    """The sandbox on `port` (no webhook delivery), logging to `log_path`, until the block ends."""
    with log_path.open("w") as log:
        sandbox = subprocess.Popen(
            [PY, "manage.py", "runsandbox", "--port", str(port), "--no-delivery"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/healthz")
            yield
        finally:
            os.killpg(sandbox.pid, signal.SIGTERM)
            sandbox.wait(timeout=10)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"sandbox did not start at {url}")


def _child(
    shared: dict[str, str],
    workdir: Path,
    sandbox_url: str,
    kind: str,
    practice: str,
    n: int,
    extra: list[str] | None = None,
) -> None:
    db = workdir / f"app-{kind}-{n}.sqlite3"
    env = _env(
        shared,
        DJANGO_SETTINGS_MODULE="hintpartner.settings",
        DJANGO_ENV="development",
        DATABASE_URL=f"sqlite:///{db}",
        HINT_API_URL=sandbox_url,
        APP_URL="http://127.0.0.1:1",
        HINT_RATE_LIMIT_PER_SECOND="100",
        DEBUG="False",  # DEBUG keeps every SQL query in memory
        BENCH_SANDBOX_DB=str(workdir / "sandbox.sqlite3"),
    )
    _manage(env, "migrate", "--no-input", "-v", "0")
    # Preparing (install, contacts) runs in its own process, so the measuring process's peak RSS
    # is the batch's own.
    for step in (f"prepare-{kind}", kind):
        out = subprocess.run(
            [PY, __file__, "--child", step, "--practice", practice, "--n", str(n), *(extra or [])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            print(out.stdout, out.stderr[-3000:])
            raise SystemExit(f"{step} {n} failed")
        if out.stdout.strip():
            print(out.stdout.strip(), flush=True)


# --- child: one measurement, in-process with the app's code ----------------------------------


class Counter:
    """Counts every request the Hint client sends, by method and status."""

    def __init__(self) -> None:
        self.by_method: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.status_429 = 0

    def install(self) -> None:
        from hintpartner.hint import client

        real = client._session.request

        def counted(method: str, url: str, **kwargs: Any) -> Any:
            started = time.monotonic()
            response = real(method, url, **kwargs)
            self.seconds[method] = self.seconds.get(method, 0.0) + time.monotonic() - started
            self.by_method[method] = self.by_method.get(method, 0) + 1
            if response.status_code == 429:
                self.status_429 += 1
            return response

        client._session.request = counted  # type: ignore[method-assign]

    def latency(self) -> str:
        return ", ".join(
            f"{m} {1000 * self.seconds[m] / self.by_method[m]:.0f} ms" for m in self.by_method
        )

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


def _setup(practice_id: str) -> Any:
    from handshake.models import Practice
    from hintpartner.hint import api

    sandbox_url = os.environ["HINT_API_URL"]
    answer = requests.post(
        f"{sandbox_url}/_sandbox/install",
        json={"practice": practice_id, "post_code": False},
        timeout=30,
    )
    answer.raise_for_status()
    installation = api.installation_connect(code=answer.json()["code"])
    return Practice.objects.create(
        hint_id=practice_id,
        name=practice_id,
        installation_id=installation.id,
        installation_status=Practice.InstallationStatus.ACTIVE,
        token=installation.token,
    )


def _all_patients(practice_id: str) -> list[dict[str, Any]]:
    """Names and birth dates of the practice's seeded patients, read from the sandbox's own
    database file (reading 100k patients through the API would dominate the set-up)."""
    import sqlite3

    with sqlite3.connect(os.environ["BENCH_SANDBOX_DB"]) as db:
        rows = db.execute(
            "SELECT p.first_name, p.last_name, p.dob FROM sandbox_patient p "
            "JOIN sandbox_practice pr ON pr.id = p.practice_id WHERE pr.hint_id = ? "
            "ORDER BY p.id",
            (practice_id,),
        ).fetchall()
    return [{"first_name": f, "last_name": last, "dob": dob} for f, last, dob in rows]


def _contact_from(practice: Any, p: dict[str, Any], **extra: Any) -> Any:
    from sync.models import Contact

    contact = Contact(
        practice=practice,
        first_name=p.get("first_name") or "",
        last_name=p.get("last_name") or "",
        dob=p.get("dob") or None,
        email="",
        city="Bench City",
        **extra,
    )
    contact.refresh_keys()
    return contact


def prepare_patients(practice_id: str, n: int) -> None:
    """Install the app; 10% of the patients get a contact with the same demographics."""
    from sync.models import Contact
    from sync.options import options_for

    practice = _setup(practice_id)
    patients = _all_patients(practice_id)
    Contact.objects.bulk_create(
        [_contact_from(practice, p) for p in patients[::10]], batch_size=1000
    )
    options = options_for(practice)
    options.create_contacts_when_batch_unmatched = True
    options.save()


def child_patients(practice_id: str, n: int, skip_writeback: bool = False) -> None:
    from handshake.audit import Actor
    from handshake.models import Practice
    from sync import batch_control, batch_patients
    from sync.models import Batch

    practice = Practice.objects.get(hint_id=practice_id)
    counter = Counter()
    counter.install()
    marks: dict[str, float] = {}
    real_send = batch_patients.send_owed

    def timed_send(batch: Any, hint: Any) -> None:
        marks["pass1"] = time.monotonic()
        marks["requests_pass1"] = counter.total
        if not skip_writeback:
            real_send(batch, hint)

    batch_patients.send_owed = timed_send

    batch = batch_control.batch_start_patients(practice=practice, actor=Actor(label="bench"))
    started = time.monotonic()
    batch_control.batch_run(batch_id=batch.pk)
    ended = time.monotonic()
    batch = Batch.objects.get(pk=batch.pk)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pass1 = marks["pass1"] - started
    writeback = "skipped" if skip_writeback else f"{ended - marks['pass1']:.1f} s"
    print(
        f"patients -> contacts, {n} patients: contacts in step after {pass1:.1f} s "
        f"({int(marks['requests_pass1'])} list requests), write-back pass "
        f"{writeback}, "
        f"total {ended - started:.1f} s; "
        f"outcomes {json.dumps(batch.counts, sort_keys=True)}; status {batch.status}; "
        f"requests {counter.by_method} (mean {counter.latency()}), 429s {counter.status_429}; "
        f"peak RSS {rss_mb:.0f} MB"
    )


def prepare_csv(practice_id: str, n: int) -> None:
    """Install the app; every patient gets a contact (the CSV lists them all)."""
    from sync.models import Contact

    practice = _setup(practice_id)
    patients = _all_patients(practice_id)
    Contact.objects.bulk_create([_contact_from(practice, p) for p in patients], batch_size=1000)


def child_csv(practice_id: str, n: int) -> None:
    from handshake.audit import Actor
    from handshake.models import Practice
    from sync import batch_control
    from sync.csv_input import csv_parse, csv_rows
    from sync.models import Batch, Contact

    practice = Practice.objects.get(hint_id=practice_id)
    ids = Contact.objects.for_practice(practice).order_by("pk").values_list("pk", flat=True)
    raw = ("Contact ID\n" + "".join(f"{pk}\n" for pk in ids) + "\nReport footer\n").encode()
    parsed = csv_parse(raw, name="contacts.csv")
    counter = Counter()
    counter.install()
    batch = batch_control.batch_start_csv(
        practice=practice,
        actor=Actor(label="bench"),
        rows=csv_rows(practice=practice, parsed=parsed),
        source_name="bench.csv",
    )
    started = time.monotonic()
    batch_control.batch_run(batch_id=batch.pk)
    elapsed = time.monotonic() - started
    batch = Batch.objects.get(pk=batch.pk)
    bound = counter.total / 100.0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"CSV contacts -> patients, {n} contacts: {elapsed:.1f} s; "
        f"{counter.total / n:.2f} Hint requests per contact ({counter.by_method}, "
        f"mean {counter.latency()}); "
        f"rate-limit bound {bound:.1f} s, ratio {elapsed / bound:.2f}x; "
        f"429s {counter.status_429} ({100 * counter.status_429 / max(counter.total, 1):.2f}%); "
        f"outcomes {json.dumps(batch.counts, sort_keys=True)}; status {batch.status}; "
        f"peak RSS {rss_mb:.0f} MB"
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument(
            "--child", choices=["patients", "csv", "prepare-patients", "prepare-csv"]
        )
        parser.add_argument("--practice")
        parser.add_argument("--n", type=int)
        parser.add_argument("--skip-writeback", action="store_true")
        a = parser.parse_args()
        import django

        django.setup()
        if a.child == "patients":
            child_patients(a.practice, a.n, a.skip_writeback)
        elif a.child == "csv":
            child_csv(a.practice, a.n)
        elif a.child == "prepare-patients":
            prepare_patients(a.practice, a.n)
        else:
            prepare_csv(a.practice, a.n)
    else:
        main()
