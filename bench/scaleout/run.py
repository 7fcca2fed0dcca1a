"""Scale-out: 2 web + 3 worker processes on one PostgreSQL, two practices' batches at once.

    .venv/bin/python bench/scaleout/run.py                  # 3,000 patients + a CSV of 1,000
    .venv/bin/python bench/scaleout/run.py --store process  # the same, each process on its own

One command, loopback only, run as root (it starts a private PostgreSQL cluster as the postgres
user, as bench/webhooks does). It starts the sandbox (Hint's 100 requests/s per token, its own
SQLite file), installs the app for two practices through the real code exchange, then starts
`--web` gunicorn processes (deploy/gunicorn.conf.py, one worker each) and `--workers`
`manage.py worker` processes, all on one PostgreSQL, and at once:
  - practice A: a patients -> contacts batch (10% of the patients have a matching contact, the
    rest get a new one), started through the web like an admin does;
  - practice B: a CSV batch of --csv contact ids, uploaded through the web;
  - both practices: contact edits posted through the web processes in turn (--edits per
    practice, spread over the batches' run); each edit is owed to Hint and sent by whichever
    worker claims it, with the practice's token, the same token the practice's batch uses.
So every token is used by several processes at once, and only the shared budget
(`HINT_BUDGET_STORE`, the database by default) keeps them under Hint's 100 requests/s.

It prints the sandbox's answers by status (from its access log: every API request it answered),
the 429 share, the batches' outcomes, and the lost work, which must be 0:
  - a patient of A without a linked contact, or without our integration fields in the sandbox;
  - a CSV row of B not linked, or its sandbox patient without our integration fields;
  - an edit the web answered with anything but a redirect, or whose value the sandbox does not
    hold once the owed writes are drained.
`--store process` runs the same with each process keeping its own limit (the old way), to show
what the shared budget prevents.
"""

import argparse
import importlib.util
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_sync = _load(ROOT / "bench" / "sync" / "run.py", "bench_sync_run")
_webhooks = _load(ROOT / "bench" / "webhooks" / "run.py", "bench_webhooks_run")
_chaos = _load(ROOT / "bench" / "chaos" / "run.py", "bench_chaos_run")
free_port, shared_secrets, wait_up = _sync.free_port, _sync.shared_secrets, _sync._wait

PATIENTS_PRACTICE, CSV_PRACTICE = "pra-scale-a", "pra-scale-b"
ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (/api/[^ ?]*)[^"]*" (\d{3}) ')


# --- processes ---------------------------------------------------------------------------------


@contextmanager
def webs(env: dict[str, str], count: int, log_dir: Path) -> Any:
    """`count` gunicorn processes with the production config, one gunicorn worker each."""
    procs, ports = [], []
    for n in range(count):
        port = free_port()
        log = (log_dir / f"web-{n}.log").open("w")
        procs.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "gunicorn"),
                    "-c",
                    "deploy/gunicorn.conf.py",
                    "hintpartner.wsgi",
                ],
                cwd=ROOT,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        ports.append(port)
    try:
        for port in ports:
            wait_up(f"http://127.0.0.1:{port}/healthz")
        yield ports
    finally:
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def child(env: dict[str, str], step: str, *args: str) -> str:
    out = subprocess.run(
        [PY, __file__, "--child", step, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        print(out.stdout, out.stderr[-3000:])
        raise SystemExit(f"{step} failed")
    return out.stdout.strip()


# --- the load ----------------------------------------------------------------------------------


class Edits(threading.Thread):
    """Posts `count` contact edits for one practice, through the web processes in turn, at
    `rate` a second; keeps the last city each contact was given."""

    def __init__(self, ports: list[int], key: str, contacts: list[dict], count: int, rate: float):
        super().__init__(daemon=True)
        self.ports, self.key, self.contacts = ports, key, contacts
        self.count, self.rate = count, rate
        self.answers: Counter[int] = Counter()
        self.wanted: dict[int, str] = {}

    def run(self) -> None:
        session = requests.Session()
        started = time.monotonic()
        for n in range(self.count):
            contact = self.contacts[n % len(self.contacts)]
            city = f"Scale City {n}"
            port = self.ports[n % len(self.ports)]
            url = f"http://127.0.0.1:{port}/hint/sync/contacts/{contact['id']}/edit"
            form = {**contact["form"], "city": city}
            try:
                answer = session.post(
                    url,
                    params={"session_key": self.key},
                    data=form,
                    allow_redirects=False,
                    timeout=30,
                )
                self.answers[answer.status_code] += 1
                if answer.status_code in (302, 303):
                    self.wanted[contact["id"]] = city
            except requests.RequestException:
                self.answers[0] += 1
            pause = started + (n + 1) / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def start_batches(port: int, keys: dict[str, str], csv_text: str) -> None:
    base = f"http://127.0.0.1:{port}/hint/sync/batches"
    answer = requests.post(
        f"{base}/patients",
        params={"session_key": keys[PATIENTS_PRACTICE]},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code not in (302, 303):
        raise SystemExit(f"patients batch not started: {answer.status_code} {answer.text[:300]}")
    answer = requests.post(
        f"{base}/csv",
        params={"session_key": keys[CSV_PRACTICE]},
        files={"file": ("contacts.csv", csv_text.encode(), "text/csv")},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code not in (302, 303):
        raise SystemExit(f"CSV batch not started: {answer.status_code} {answer.text[:300]}")


def sandbox_answers(log_path: Path) -> Counter[str]:
    answers: Counter[str] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if match:
            answers[match.group(3)] += 1
    return answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=3000, help="practice A's patients")
    parser.add_argument("--csv", type=int, default=1000, help="practice B's CSV rows")
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--edits", type=int, default=300, help="contact edits per practice")
    parser.add_argument(
        "--edit-rate", type=float, default=10.0, help="edits a second, per practice"
    )
    parser.add_argument("--store", default="database", help="HINT_BUDGET_STORE for every process")
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="Hint's requests/s per token, in the sandbox and the app alike (a lower one lets a "
        "busy machine's processes together exceed it)",
    )
    parser.add_argument("--deadline", type=float, default=600.0)
    args = parser.parse_args()

    shared = shared_secrets()
    workdir = Path(tempfile.mkdtemp(prefix="hintbench-scale."))
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    senv = _sync._env(
        shared,
        SANDBOX_DATABASE_URL=f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        SANDBOX_URL=sandbox_url,
        SANDBOX_ACCESS_LOG="1",
        SANDBOX_RATE_LIMIT=str(args.rate),
    )
    _sync._manage(senv, "sandbox_migrate")
    for practice, n in ((PATIENTS_PRACTICE, args.patients), (CSV_PRACTICE, args.csv + 50)):
        _sync._manage(senv, "sandbox_seed", "--practice", practice, "--patients", str(n))
    print(
        f"{args.web} web + {args.workers} worker processes, budget store {args.store!r}, "
        f"Hint's limit {args.rate:g} requests/s per token; "
        f"practice A: patients batch of {args.patients}; practice B: CSV batch of {args.csv}; "
        f"{args.edits} edits per practice at {args.edit_rate}/s",
        flush=True,
    )
    with ExitStack() as stack:
        database_url, _postmaster = stack.enter_context(_webhooks.private_postgres())
        base = database_url.rsplit("/", 1)[0]
        subprocess.run(["psql", base + "/postgres", "-qc", "CREATE DATABASE hintbench"], check=True)
        env = _sync._env(
            shared,
            DJANGO_SETTINGS_MODULE="hintpartner.settings",
            DJANGO_ENV="development",
            DEBUG="False",
            DATABASE_URL=database_url,
            HINT_API_URL=sandbox_url,
            APP_URL="http://127.0.0.1:1",
            HINT_RATE_LIMIT_PER_SECOND=str(args.rate),
            HINT_BUDGET_STORE=args.store,
            BENCH_SANDBOX_DB=str(workdir / "sandbox.sqlite3"),
        )
        _sync._manage(env, "migrate", "--no-input", "-v", "0")
        log_path = workdir / "sandbox.log"
        stack.enter_context(_sync.running_sandbox(senv, port, log_path))
        setup = child(env, "prepare", str(args.patients), str(args.csv))
        keys, csv_text, contacts = _parse_setup(setup)
        ports = stack.enter_context(webs(env, args.web, workdir))
        stack.enter_context(_chaos.workers(env, args.workers, workdir))
        before = sandbox_answers(log_path)
        started = time.monotonic()
        start_batches(ports[0], keys, csv_text)
        edits = [
            Edits(ports, keys[p], contacts[p], args.edits, args.edit_rate)
            for p in (PATIENTS_PRACTICE, CSV_PRACTICE)
        ]
        for thread in edits:
            thread.start()
        finished = _await_done(env, started, args.deadline)
        for thread in edits:
            thread.join()
        drained = _await_drained(env, started, args.deadline)
        elapsed = time.monotonic() - started
        after = sandbox_answers(log_path)
        wanted = {**edits[0].wanted, **edits[1].wanted}
        report = child(env, "check", repr(wanted))
    answers = after - before
    total = sum(answers.values())
    share = 100 * answers.get("429", 0) / total if total else 0.0
    edit_answers = edits[0].answers + edits[1].answers
    print(f"batches finished: {finished}; owed writes drained: {drained}; {elapsed:.1f} s")
    print(
        f"sandbox answers: {dict(sorted(answers.items()))}; 429 share {share:.2f}% of {total} "
        f"({total / elapsed:.0f} requests/s for both tokens)"
    )
    print(f"edit answers from the web: {dict(edit_answers)}")
    print(report)
    print(f"(work files in {workdir}; load average {os.getloadavg()[0]:.1f})")


def _parse_setup(text: str) -> tuple[dict[str, str], str, dict[str, list[dict]]]:
    import json

    data = json.loads(text.splitlines()[-1])
    return data["keys"], data["csv"], data["contacts"]


def _await_done(env: dict[str, str], started: float, deadline: float) -> bool:
    while time.monotonic() - started < deadline:
        if child(env, "batches-done") == "yes":
            return True
        time.sleep(2)
    return False


def _await_drained(env: dict[str, str], started: float, deadline: float) -> bool:
    while time.monotonic() - started < deadline:
        if child(env, "owed") == "0":
            return True
        time.sleep(2)
    return False


# --- children: the app's own code, in their own process -----------------------------------------


def child_prepare(patients: int, csv: int) -> None:
    """Install both practices, create A's 10% matching contacts (option: create the rest) and B's
    contacts for the CSV, link 50 contacts of each to patients for the edits, open sessions."""
    import json

    from handshake.models import Practice
    from sync.models import Contact
    from sync.options import options_for
    from tests.conftest import open_session

    out: dict[str, Any] = {"keys": {}, "contacts": {}}
    for practice_id, share in ((PATIENTS_PRACTICE, 10), (CSV_PRACTICE, 1)):
        practice = _sync._setup(practice_id)
        people = _linkable(practice_id)
        # The last 50 patients get an already linked contact (edited below); the others' contacts
        # are for the batches: every 10th patient of A, every patient of B (the CSV).
        chosen = people[:-50:share]
        Contact.objects.bulk_create(
            [_sync._contact_from(practice, p) for p in chosen], batch_size=1000
        )
        out["keys"][practice_id] = open_session(practice, ["admin"])
        # The edited contacts: linked already, the last 50 patients (the batches reach them too).
        linked = []
        for p in people[-50:]:
            contact = _sync._contact_from(practice, p, hint_patient_id=p["hint_id"])
            contact.save()
            linked.append({"id": contact.pk, "form": _form(contact)})
        out["contacts"][practice_id] = linked
    options = options_for(Practice.objects.get(hint_id=PATIENTS_PRACTICE))
    options.create_contacts_when_batch_unmatched = True
    options.save()
    csv_practice = Practice.objects.get(hint_id=CSV_PRACTICE)
    ids = (
        Contact.objects.for_practice(csv_practice)
        .filter(hint_patient_id="")
        .order_by("pk")
        .values_list("pk", flat=True)[:csv]
    )
    out["csv"] = "Contact ID\n" + "".join(f"{pk}\n" for pk in ids)
    print(json.dumps(out))


def _linkable(practice_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(os.environ["BENCH_SANDBOX_DB"]) as db:
        rows = db.execute(
            "SELECT p.first_name, p.last_name, p.dob, p.hint_id FROM sandbox_patient p "
            "JOIN sandbox_practice pr ON pr.id = p.practice_id WHERE pr.hint_id = ? "
            "ORDER BY p.id",
            (practice_id,),
        ).fetchall()
    return [{"first_name": f, "last_name": ln, "dob": d, "hint_id": h} for f, ln, d, h in rows]


def _form(contact: Any) -> dict[str, str]:
    from sync import fieldmap

    form = {}
    for name in fieldmap.TWO_WAY_FIELDS:
        value = getattr(contact, name, "")
        form[name] = "" if value is None else str(value)
    return form


def child_batches_done() -> None:
    from sync.models import Batch

    active = Batch.objects.filter(status__in=Batch.ACTIVE_STATUSES).exists()
    print("no" if active or not Batch.objects.exists() else "yes")


def child_owed() -> None:
    from sync.models import Contact

    print(Contact.objects.exclude(hint_owed_fields=[]).count())


def child_check(wanted_repr: str) -> None:
    import ast

    from handshake.models import Practice
    from sync.models import Batch, BatchRow, Contact

    wanted: dict[int, str] = ast.literal_eval(wanted_repr)
    lines = []
    with sqlite3.connect(os.environ["BENCH_SANDBOX_DB"]) as db:
        sandbox = {
            h: (rid or "", city or "", pr)
            for h, rid, city, pr in db.execute(
                "SELECT p.hint_id, p.integration_record_id, p.address_city, pr.hint_id "
                "FROM sandbox_patient p JOIN sandbox_practice pr ON pr.id = p.practice_id"
            )
        }
    a = Practice.objects.get(hint_id=PATIENTS_PRACTICE)
    b = Practice.objects.get(hint_id=CSV_PRACTICE)
    for practice in (a, b):
        for batch in Batch.objects.for_practice(practice):
            lines.append(
                f"{practice.hint_id} {batch.kind}: status {batch.status}, "
                f"outcomes {dict(sorted(batch.counts.items()))} {batch.message or ''}".rstrip()
            )
    linked_a = set(
        Contact.objects.for_practice(a).linked().values_list("hint_patient_id", flat=True)
    )
    # The 50 linked before the batch (by this script, not through Hint) carry no integration
    # fields unless a write sent them; the batch owes them none.
    prelinked = {p["hint_id"] for p in _linkable(PATIENTS_PRACTICE)[-50:]}
    patients_a = [h for h, (_r, _c, pr) in sandbox.items() if pr == PATIENTS_PRACTICE]
    lost_a = [
        h for h in patients_a if h not in linked_a or (h not in prelinked and not sandbox[h][0])
    ]
    rows_b = BatchRow.objects.filter(batch__practice=b).select_related("contact")
    lost_b = [
        r.contact_id
        for r in rows_b
        if not r.contact.hint_patient_id or not sandbox.get(r.contact.hint_patient_id, ("",))[0]
    ]
    lost_edits, out_of_step = [], 0
    for contact in Contact.objects.filter(pk__in=list(wanted)):
        held = sandbox.get(contact.hint_patient_id or "", ("", "", ""))[1]
        if held != wanted[contact.pk]:
            lost_edits.append(contact.pk)
        out_of_step += contact.city != held
    lines.append(
        f"lost work: {len(lost_a)} of {len(patients_a)} patients of A not linked or without our "
        f"fields; {len(lost_b)} of {rows_b.count()} CSV rows of B; {len(lost_edits)} of "
        f"{len(wanted)} edited contacts whose last value Hint does not hold "
        f"({out_of_step} whose own value differs from Hint's)"
    )
    print("\n".join(lines))


def child_main() -> None:
    import django

    step, *rest = sys.argv[sys.argv.index("--child") + 1 :]
    django.setup()
    if step == "prepare":
        child_prepare(int(rest[0]), int(rest[1]))
    elif step == "batches-done":
        child_batches_done()
    elif step == "owed":
        child_owed()
    elif step == "check":
        child_check(rest[0])


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main()
    else:
        main()
