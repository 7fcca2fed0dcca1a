"""Webhook acknowledge throughput and patient search latency, on gunicorn + PostgreSQL.

    .venv/bin/python bench/webhooks/run.py            # defaults: 5,000 events, 100,000 patients

One command: starts a private PostgreSQL cluster in a temp dir on a free port (or uses
--database-url), migrates, creates a connected practice, starts gunicorn on a free loopback
port, then
  1. sends signed webhook deliveries from a thread pool with keep-alive connections (bounded by
     --events and --seconds) and reports events/s acknowledged, p50/p99 latency, and events
     stored vs sent; then sorts what the app received into the practice's events (the worker's
     step, `webhooks.inbox.received_sort`) and reports its rate and CPU per event;
  2. seeds --patients patients and times the live-search request (the htmx GET the search box
     sends) over a mix of queries: p50/p95.
Everything it starts is stopped at the end. Loopback only; see bench/webhooks/README.md.
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PRACTICE_ID = "pra-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_postgres() -> Any:
    """A throwaway cluster owned by the postgres user, like .ci/run's."""
    versions = sorted(
        os.listdir("/usr/lib/postgresql"), key=lambda v: [int(x) for x in v.split(".")]
    )
    bin_dir = f"/usr/lib/postgresql/{versions[-1]}/bin"
    data = tempfile.mkdtemp(prefix="hintbench-pg.")
    shutil.chown(data, "postgres")
    port = int(os.environ.get("BENCH_PG_PORT") or 0) or free_port()
    as_pg = ["su", "postgres", "-c"]
    subprocess.run(
        [*as_pg, f"{bin_dir}/initdb -D {data} -A trust -U postgres"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {data} " + os.environ.get("BENCH_PG_OPTS", "")
    subprocess.run(
        [*as_pg, f"{bin_dir}/pg_ctl -D {data} -o '{opts}' -l {data}/log start -w"],
        check=True,
        capture_output=True,
    )
    try:
        postmaster = int(Path(data, "postmaster.pid").read_text().split()[0])
        yield f"postgres://postgres@127.0.0.1:{port}/hintbench", postmaster
    finally:
        subprocess.run([*as_pg, f"{bin_dir}/pg_ctl -D {data} stop -m fast"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def gunicorn(env: dict[str, str], workers: int, threads: int, app: str = "hintpartner.wsgi") -> Any:
    """gunicorn serving `app` (the app, or `bench.bound:application`) with the same settings."""
    port = free_port()
    cmd = [
        str(GUNICORN),
        app,
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "10",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _proc_cpu(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of one process (0 if it is gone); with `reaped`, also those of
    its children that exited and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _family(root: int) -> list[int]:
    """`root`'s direct children."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == root:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds `roots` (PostgreSQL's postmaster, gunicorn's master) and their children use
    from now on. A child that exits meanwhile (a backend closed after CONN_MAX_AGE, an
    autovacuum worker) still counts: its time moves to its parent's reaped-children time, which
    is read too (a plain sum over the live family went negative when one exited)."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.start = self._total()

    def _total(self) -> float:
        total = 0.0
        for root in self.roots:
            total += _proc_cpu(root, reaped=True)
            total += sum(_proc_cpu(pid) for pid in _family(root))
        return total

    def seconds(self) -> float:
        return self._total() - self.start


def percentile(values: list[float], pct: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
        if len(values) > 1
        else values[0]
    )


# --- 1. webhooks -------------------------------------------------------------------------------


def build_events(count: int, secret: str) -> list[tuple[bytes, str]]:
    from hintpartner.hint.signing import sign

    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "id": f"evt-bench-{run}-{i}",
                "type": "patient.updated",
                "practice_id": PRACTICE_ID,
                "created_at": "2026-05-26T14:23:00.000Z",
                "object": {
                    "id": f"pat-{i % 5000}",
                    "first_name": "Bench",
                    "last_name": f"Patient{i}",
                    "dob": "1980-01-01",
                    "email": f"bench{i}@example.test",
                    "updated_at": "2026-05-26T14:22:59.000Z",
                },
            }
        ).encode()
        out.append((body, sign(body, secret)))
    return out


def send_events(
    port: int,
    events: list[tuple[bytes, str]],
    concurrency: int,
    seconds: float,
    path: str = "/hint/webhooks",
) -> dict[str, Any]:
    """Send every event once over `concurrency` keep-alive connections (asyncio, requests built
    in advance, so the generator spends ~0.1 ms of CPU per event, not ~0.25 as http.client
    threads did: the load generator shares the machine's two cores with what it measures)."""
    return asyncio.run(_send_all(port, events, concurrency, seconds, path))


def _request_bytes(port: int, body: bytes, signature: str, path: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"X-Hint-Signature: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _send_all(
    port: int, events: list[tuple[bytes, str]], concurrency: int, seconds: float, path: str
) -> dict[str, Any]:
    requests = [_request_bytes(port, body, signature, path) for body, signature in events]
    cursor = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in cursor:
            if time.monotonic() >= deadline:
                break
            started = time.perf_counter()
            try:
                writer.write(requests[i])
                status = await asyncio.wait_for(_answer_status(reader), timeout=10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    acknowledged = statuses.get(200, 0)
    return {
        "sent": len(latencies),
        "acknowledged": acknowledged,
        "statuses": statuses,
        "seconds": round(elapsed, 2),
        "per_second": round(acknowledged / elapsed),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def bound_env(env: dict[str, str], database_url: str, secret: str) -> dict[str, str]:
    """The environment of the bound app (bench/bound.py), its tables created."""
    from bench.bound import schema_create

    schema_create(database_url)
    return {**env, "BOUND_DATABASE_URL": database_url, "BOUND_SECRET": secret}


def sort_received(inbox: Any, events: Any, db_roots: list[int]) -> dict[str, Any]:
    """The worker's share of each delivery, measured in-process: sort everything received into
    the practice's events (`inbox.received_sort`), and check that every one arrived there."""
    waiting = inbox.ReceivedWebhookEvent.objects.count()
    before = events.objects.count()
    cpu_db, cpu_python = CpuMeter(db_roots), time.process_time()
    started = time.perf_counter()
    done = inbox.received_sort(limit=waiting)
    seconds = time.perf_counter() - started
    n = max(done, 1)
    return {
        "sorted": done,
        "per_second": round(done / seconds) if seconds else 0,
        "lost": waiting - (events.objects.count() - before),
        "cpu_ms_per_event": {
            "python": round((time.process_time() - cpu_python) * 1000 / n, 3),
            "postgres": round(cpu_db.seconds() * 1000 / n, 3),
        },
        "load_average": os.getloadavg()[0],
    }


def ratio_line(what: str, app: list[float], bound: list[float]) -> str:
    ratios = sorted(a / b for a, b in zip(app, bound, strict=True) if b)
    return (
        f"{what}: app/bound per round {[round(r, 2) for r in ratios]}, "
        f"median {statistics.median(ratios):.2f}x (load average now {os.getloadavg()[0]:.1f})"
    )


# --- 2. search ---------------------------------------------------------------------------------

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Zoë",
    "José",
    "Mary",
    "John",
    "Linda",
    "Wei",
    "Fatima",
    "Olu",
    "Priya",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Mateo",
    "Aisha",
    "Chen",
    "Ivan",
]


def seed_patients(practice: Any, count: int) -> None:
    from datetime import date, timedelta

    from sync.matching import normalize_name
    from sync.models import Patient

    rng = random.Random(5)
    existing = Patient.objects.for_practice(practice).count()
    batch = []
    for i in range(existing, count):
        last = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))).title()
        first = rng.choice(FIRST)
        email = f"{first.lower()}.{last.lower()}{i}@example.test"
        batch.append(
            Patient(
                practice=practice,
                hint_id=f"pat-seed-{i}",
                first_name=first,
                last_name=last,
                dob=date(1940, 1, 1) + timedelta(days=rng.randint(0, 30000)),
                email=email,
                first_name_key=normalize_name(first),
                last_name_key=normalize_name(last),
                email_key=email,
                data={"id": f"pat-seed-{i}"},
                membership_status="active",
            )
        )
        if len(batch) == 5000:
            Patient.objects.bulk_create(batch)
            batch = []
    Patient.objects.bulk_create(batch)


def search_queries(rng: random.Random, count: int) -> list[str]:
    from sync.models import Patient

    sample = list(
        Patient.objects.order_by("?").values_list("last_name", "first_name", "dob", "email")[:200]
    )
    queries = []
    for _ in range(count):
        last, first, dob, email = rng.choice(sample)
        queries.append(
            rng.choice(
                [
                    last[:1],
                    last[:2],
                    last[:3],
                    last,
                    f"{first} {last[:3]}",
                    f"{last}, {first}",
                    dob.isoformat(),
                    email[:6] + "",
                    email,
                    "",
                ]
            )
        )
    return queries


def time_search(port: int, key: str, queries: list[str]) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    for q in queries:
        url = "/hint/sync/patients/?" + urlencode({"q": q})
        started = time.perf_counter()
        conn.request("GET", url, headers={"HX-Request": "true", "X-Hint-Session-Key": key})
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"search {q!r} answered {response.status}")
    conn.close()
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
    }


def database_ms(practice: Any, query: str) -> dict[str, float]:
    """The statements the search runs for `query` and their time as the app sees it (median of
    five runs, in-process: the same function the view calls)."""
    from django.db import connection

    from sync.models import Patient
    from sync.patient_search import patients_page
    from sync.views_patients import COUNT_CAP, LIST_FIELDS, PAGE_SIZE

    patients = Patient.objects.for_practice(practice).visible().only(*LIST_FIELDS)
    runs = []
    for _ in range(5):
        times: list[float] = []

        def timed(
            execute: Any, sql: str, params: Any, many: bool, context: Any, times: list = times
        ) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                times.append((time.perf_counter() - started) * 1000)

        with connection.execute_wrapper(timed):
            patients_page(patients, query, offset=0, size=PAGE_SIZE + 1, cap=COUNT_CAP)
        runs.append((len(times), sum(times)))
    runs.sort(key=lambda run: run[1])
    statements, ms = runs[len(runs) // 2]
    return {"statements": statements, "ms": round(ms, 2)}


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30.0, help="stop sending after this")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="app and bound, interleaved")
    parser.add_argument("--patients", type=int, default=100_000, help="0: no search part")
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--database-url", default="", help="use this PostgreSQL instead")
    args = parser.parse_args()

    with ExitStack() as stack:
        database_url, postmaster = args.database_url, 0
        if not database_url:
            database_url, postmaster = stack.enter_context(private_postgres())
        if not args.database_url:
            base, name = database_url.rsplit("/", 1)
            subprocess.run(
                ["psql", base + "/postgres", "-qc", f"CREATE DATABASE {name}"], check=True
            )
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_ENV": "development",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
        }
        env.pop("REDIS_URL", None)  # the embedded default: the database task backend
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
        import django

        django.setup()
        from django.conf import settings

        from handshake.models import Practice
        from handshake.services import session_open
        from sync.models import BackfillRun
        from webhooks import inbox
        from webhooks.models import ReceivedWebhookEvent, WebhookEvent

        def kept() -> int:  # received and not sorted yet, or sorted into the practice's events
            return ReceivedWebhookEvent.objects.count() + WebhookEvent.objects.count()

        practice, _ = Practice.objects.update_or_create(
            hint_id=PRACTICE_ID,
            defaults={"name": "Bench", "installation_status": "active", "token": "bench-token"},
        )
        BackfillRun.objects.get_or_create(practice=practice, status="done")
        key = session_open(
            payload={
                "user": {"id": "bench-user", "partner_roles": ["staff"]},
                "practice": {"id": PRACTICE_ID, "name": "Bench"},
                "access_token": "bench-session",
            }
        ).key

        secret = settings.HINT_WEBHOOK_SECRET
        benv = bound_env(env, database_url, secret)
        with (
            gunicorn(env, args.workers, args.threads) as (port, master),
            gunicorn(benv, args.workers, args.threads, "bench.bound:application") as (
                bport,
                bmaster,
            ),
        ):
            send_events(port, build_events(200, secret), 4, 10)  # warm-up
            send_events(bport, build_events(200, secret), 4, 10)
            roots = [master] + ([postmaster] if postmaster else [])
            rates: dict[str, list[float]] = {"app": [], "bound": []}
            for round_ in range(args.rounds):
                # Interleaved, the order alternating: both see the same machine.
                order = [("app", port, master), ("bound", bport, bmaster)]
                for name, target, root in order if round_ % 2 == 0 else order[::-1]:
                    events = build_events(args.events, secret)
                    before = kept() if name == "app" else 0
                    cpu_app, cpu_db = CpuMeter([root]), CpuMeter(roots[1:])
                    cpu_client = time.process_time()
                    hooks = send_events(target, events, args.concurrency, args.seconds)
                    n = max(hooks["acknowledged"], 1)
                    if name == "app":
                        hooks["stored"] = kept() - before
                        hooks["lost"] = hooks["acknowledged"] - hooks["stored"]
                    hooks["cpu_ms_per_event"] = {
                        "server": round(cpu_app.seconds() * 1000 / n, 2),
                        "postgres": round(cpu_db.seconds() * 1000 / n, 2),
                        "load_generator": round((time.process_time() - cpu_client) * 1000 / n, 2),
                    }
                    hooks["load_average"] = os.getloadavg()[0]
                    rates[name].append(hooks["per_second"])
                    print(f"webhooks round {round_ + 1} {name}:", json.dumps(hooks), flush=True)
            print(ratio_line("webhook throughput", rates["app"], rates["bound"]))
            print("sort:", json.dumps(sort_received(inbox, WebhookEvent, roots[1:])), flush=True)
            if not args.patients:
                return

            started = time.perf_counter()
            seed_patients(practice, args.patients)
            print(f"seeded {args.patients} patients in {time.perf_counter() - started:.0f} s")
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE sync_patient")
            queries = search_queries(random.Random(7), args.searches)
            time_search(port, key, queries[:30])  # warm-up
            cpu_app, cpu_db = CpuMeter([master]), CpuMeter(roots[1:])
            search = time_search(port, key, queries)
            search["cpu_ms_per_request"] = {
                "app": round(cpu_app.seconds() * 1000 / len(queries), 2),
                "postgres": round(cpu_db.seconds() * 1000 / len(queries), 2),
            }
            search["load_average"] = os.getloadavg()[0]
            print("search:", json.dumps(search))
            print("database time of one search (statements, ms):")
            for query in ("s", "Q", "Kwm", "smi", "Ada smi", "1980-02-03", "ada.", ""):
                print(f"  {query!r:14} {database_ms(practice, query)}")
        connection.close()


if __name__ == "__main__":
    main()
