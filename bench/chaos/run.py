"""Chaos run: webhooks through gunicorn + PostgreSQL + two workers, a `kill -9` and a restart.

    .venv/bin/python bench/chaos/run.py           # 10,000 deliveries, about three minutes

One command, loopback only. It starts a private PostgreSQL cluster (as bench/webhooks does),
migrates, creates a connected practice, starts gunicorn and two `manage.py worker` processes,
then sends signed `patient.updated` deliveries (repeats of earlier event ids, `updated_at` out
of order per patient) and meanwhile:
  - kills one worker with `kill -9` while it runs a task (--kill-at seconds in),
  - stops PostgreSQL at once (`pg_ctl -m immediate`) and starts it again (--restart-at),
  - resends what was not acknowledged, as Hint does (bounded rounds),
  - waits until every stored event is applied (or --deadline),
  - kills the last worker and times how long /readyz takes to say 503.
It prints sent, acknowledged, stored, applied, lost, duplicated, the time from recovery (the
database back) to all applied, and what /readyz said while nothing ran. Lost: an acknowledged
event not processed, or a patient whose mirror is not at the newest `updated_at` sent for it.
Duplicated: a second row for one event or one patient, or an update that wrote a patient's
`updated_at` again or moved it back (counted by a trigger on the mirror table).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = ROOT / ".venv" / "bin" / "python"
PRACTICE_ID = "pra-chaos"
BASE_TIME = datetime(2026, 5, 1, tzinfo=UTC)


def _load(path: Path, name: str) -> Any:
    """bench/webhooks/run.py: its PostgreSQL, gunicorn and HTTP helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_webhooks = _load(ROOT / "bench" / "webhooks" / "run.py", "bench_webhooks_run")
_answer_status, _request_bytes = _webhooks._answer_status, _webhooks._request_bytes
free_port, gunicorn = _webhooks.free_port, _webhooks.gunicorn


# --- PostgreSQL we can restart -----------------------------------------------------------------


class Postgres:
    def __init__(self) -> None:
        versions = sorted(
            os.listdir("/usr/lib/postgresql"), key=lambda v: [int(x) for x in v.split(".")]
        )
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.data = tempfile.mkdtemp(prefix="hintchaos-pg.")
        shutil.chown(self.data, "postgres")
        self.port = int(os.environ.get("CHAOS_PG_PORT") or free_port())
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/hintchaos"

    def _pg(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True)

    def init(self) -> None:
        self._pg(f"{self.bin}/initdb -D {self.data} -A trust -U postgres")
        self.start()
        subprocess.run(
            ["psql", self.url.rsplit("/", 1)[0] + "/postgres", "-qc", "CREATE DATABASE hintchaos"],
            check=True,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c max_connections=200"
        self._pg(f"{self.bin}/pg_ctl -D {self.data} -o '{opts}' -l {self.data}/log start -w")

    def stop(self, mode: str = "fast") -> None:
        self._pg(f"{self.bin}/pg_ctl -D {self.data} stop -m {mode}")

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@contextmanager
def postgres() -> Any:
    pg = Postgres()
    pg.init()
    try:
        yield pg
    finally:
        pg.remove()


# --- workers -----------------------------------------------------------------------------------


@contextmanager
def workers(env: dict[str, str], count: int, log_dir: Path) -> Any:
    procs = []
    for n in range(count):
        log = open(log_dir / f"worker-{n}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [str(PYTHON), "manage.py", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# --- events ------------------------------------------------------------------------------------


def build_deliveries(
    count: int, patients: int, repeats: float, secret: str, rng: random.Random
) -> tuple[list[tuple[str, bytes, str]], dict[str, int]]:
    """`count` deliveries: (event id, body, signature). A share `repeats` repeat an earlier
    event (Hint's retries); the rest are new, each a random version of a random patient, so a
    patient's versions arrive out of order. Returns them and, per event id, its version."""
    from hintpartner.hint.signing import sign

    run = uuid.uuid4().hex[:6]
    unique = int(count * (1 - repeats))
    out: list[tuple[str, bytes, str]] = []
    versions: dict[str, int] = {}
    for i in range(unique):
        version = rng.randint(1, 100_000)
        patient = f"pat-chaos-{rng.randrange(patients)}"
        event_id = f"evt-chaos-{run}-{i}"
        updated = (BASE_TIME + timedelta(seconds=version)).isoformat().replace("+00:00", "Z")
        body = json.dumps(
            {
                "id": event_id,
                "type": "patient.updated",
                "practice_id": PRACTICE_ID,
                "created_at": updated,
                "object": {
                    "id": patient,
                    "first_name": "Chaos",
                    "last_name": f"V{version}",
                    "dob": "1980-01-01",
                    "email": f"{patient}@example.test",
                    "updated_at": updated,
                },
            }
        ).encode()
        out.append((event_id, body, sign(body, secret)))
        versions[event_id] = version
    for _ in range(count - unique):  # repeats, spread through the run
        out.insert(rng.randrange(len(out) // 10, len(out) + 1), rng.choice(out[: len(out)]))
    return out, versions


async def _send(
    port: int,
    deliveries: list[tuple[str, bytes, str]],
    concurrency: int,
    rate: float,
    acked: set[str],
    counts: dict[str, int],
) -> None:
    """Send each delivery once at about `rate` per second; record acknowledged event ids."""
    cursor = iter(range(len(deliveries)))
    started = time.monotonic()

    async def connection() -> None:
        reader = writer = None
        for i in cursor:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event_id, body, signature = deliveries[i]
            status = 0
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(_request_bytes(port, body, signature, "/hint/webhooks"))
                status = await asyncio.wait_for(_answer_status(reader), timeout=10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                if writer is not None:
                    writer.close()
                reader = writer = None
            counts["sent"] += 1
            counts[f"status_{status}"] = counts.get(f"status_{status}", 0) + 1
            if status == 200:
                acked.add(event_id)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))


# --- observing ---------------------------------------------------------------------------------


class ReadyWatch(threading.Thread):
    """Polls /readyz twice a second: (monotonic time, status or 0 when unanswered)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/readyz", timeout=3
                ) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            self.samples.append((time.monotonic(), status))
            self.stop.wait(0.5)

    def between(self, start: float, end: float) -> dict[str, int]:
        seen: dict[str, int] = {}
        for at, status in self.samples:
            if start <= at <= end:
                seen[str(status)] = seen.get(str(status), 0) + 1
        return seen


MIRROR_TRIGGER = """
CREATE TABLE IF NOT EXISTS chaos_rewrites (hint_id text, old_at timestamptz, new_at timestamptz);
CREATE OR REPLACE FUNCTION chaos_watch() RETURNS trigger AS $$
BEGIN
  IF NEW.hint_updated_at IS NOT DISTINCT FROM OLD.hint_updated_at
     OR NEW.hint_updated_at < OLD.hint_updated_at THEN
    INSERT INTO chaos_rewrites VALUES (NEW.hint_id, OLD.hint_updated_at, NEW.hint_updated_at);
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chaos_watch ON sync_patient;
CREATE TRIGGER chaos_watch BEFORE UPDATE ON sync_patient
  FOR EACH ROW EXECUTE FUNCTION chaos_watch();
"""


def _query(sql: str, params: tuple = ()) -> list[tuple]:
    from django.db import connection

    for attempt in range(30):
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except Exception:
            connection.close()
            if attempt == 29:
                raise
            time.sleep(1)
    return []


def _running_tasks_of(worker_suffix: str) -> int:
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.running().values_list("worker_ids", flat=True)
    return sum(1 for ids in rows if ids and str(ids[-1]).endswith(worker_suffix))


def _applied_per_10_s(recovered: float, t0: float) -> list[int]:
    """Events applied in each 10 s after the database came back (wall clock from monotonic)."""
    wall = time.time() - (time.monotonic() - recovered)
    rows = _query(
        "SELECT floor((extract(epoch FROM processed_at) - %s) / 10)::int AS bucket, count(*)"
        " FROM webhooks_webhookevent WHERE processed_at IS NOT NULL GROUP BY bucket"
        " ORDER BY bucket",
        (wall,),
    )
    return [count for bucket, count in rows if bucket >= 0]


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="deliveries, repeats included")
    parser.add_argument("--repeats", type=float, default=0.1, help="share of repeated deliveries")
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=250.0, help="deliveries per second")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=10.0)
    parser.add_argument("--restart-at", type=float, default=20.0)
    parser.add_argument("--down-for", type=float, default=5.0, help="seconds PostgreSQL is down")
    parser.add_argument("--deadline", type=float, default=300.0, help="wait for all applied")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    log_dir = Path(tempfile.mkdtemp(prefix="hintchaos-logs."))

    with ExitStack() as stack:
        pg = stack.enter_context(postgres())
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
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
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.conf import settings

        from handshake.models import Practice
        from sync.models import BackfillRun

        practice, _ = Practice.objects.update_or_create(
            hint_id=PRACTICE_ID,
            defaults={"name": "Chaos", "installation_status": "active", "token": "chaos-token"},
        )
        BackfillRun.objects.get_or_create(practice=practice, status="done")
        _query(MIRROR_TRIGGER)
        deliveries, versions = build_deliveries(
            args.events, args.patients, args.repeats, settings.HINT_WEBHOOK_SECRET, rng
        )
        port, _master = stack.enter_context(gunicorn(env, 2, 4))
        procs = stack.enter_context(workers(env, 2, log_dir))
        watch = ReadyWatch(port)
        watch.start()
        time.sleep(3)  # the workers' first beats

        acked: set[str] = set()
        counts = {"sent": 0}
        t0 = time.monotonic()
        sender = threading.Thread(
            target=lambda: asyncio.run(
                _send(port, deliveries, args.concurrency, args.rate, acked, counts)
            )
        )
        sender.start()
        timeline: dict[str, Any] = {}

        # kill -9 one worker while it runs a task
        time.sleep(max(0.0, t0 + args.kill_at - time.monotonic()))
        victim = procs[0]
        suffix = f":{victim.pid}"
        for _ in range(2000):
            if _running_tasks_of(suffix):
                break
            time.sleep(0.005)
        timeline["killed_while_running_tasks"] = _running_tasks_of(suffix)
        os.kill(victim.pid, signal.SIGKILL)
        timeline["worker_killed_at_s"] = round(time.monotonic() - t0, 1)

        # PostgreSQL stopped at once, started again
        time.sleep(max(0.0, t0 + args.restart_at - time.monotonic()))
        from django.db import connection

        connection.close()
        down_at = time.monotonic()
        pg.stop("immediate")
        time.sleep(args.down_for)
        pg.start()
        recovered = time.monotonic()
        timeline["database_down_s"] = [round(down_at - t0, 1), round(recovered - t0, 1)]

        sender.join()
        timeline["first_round_sent_s"] = round(time.monotonic() - t0, 1)
        first_round = dict(counts)
        # Hint retries what was not acknowledged: up to five more rounds.
        for _ in range(5):
            owed = [d for d in dict.fromkeys(deliveries) if d[0] not in acked]
            if not owed:
                break
            time.sleep(2)
            asyncio.run(_send(port, owed, args.concurrency, args.rate, acked, counts))
        sent_ids = {event_id for event_id, _, _ in deliveries}
        timeline["all_acknowledged_s"] = round(time.monotonic() - t0, 1)
        acked_all = time.monotonic()

        # wait for everything stored to be applied (received and not sorted yet counts as waiting)
        applied_at = None
        while time.monotonic() - recovered < args.deadline:
            (waiting,) = _query(
                "SELECT (SELECT count(*) FROM webhooks_webhookevent WHERE status <> 'processed')"
                " + (SELECT count(*) FROM webhooks_receivedwebhookevent)"
            )[0]
            if waiting == 0:
                applied_at = time.monotonic()
                break
            time.sleep(0.5)

        # the last worker killed: how long until /readyz says so
        os.kill(procs[1].pid, signal.SIGKILL)
        killed_all = time.monotonic()
        red_after = None
        while time.monotonic() - killed_all < settings.WORKER_HEARTBEAT_STALE_SECONDS + 60:
            if watch.samples and watch.samples[-1][0] > killed_all and watch.samples[-1][1] == 503:
                red_after = watch.samples[-1][0] - killed_all
                break
            time.sleep(0.5)
        watch.stop.set()

        # the figures
        stored = dict(
            _query(
                "SELECT event_id, status FROM webhooks_webhookevent WHERE practice_id = %s",
                (practice.pk,),
            )
        )
        applied = {e for e, status in stored.items() if status == "processed"}
        expected: dict[str, int] = {}
        for event_id in acked:
            body = next(b for e, b, _ in deliveries if e == event_id)
            patient = json.loads(body)["object"]["id"]
            expected[patient] = max(expected.get(patient, 0), versions[event_id])
        mirror = dict(
            _query(
                "SELECT hint_id, last_name FROM sync_patient WHERE practice_id = %s",
                (practice.pk,),
            )
        )
        wrong = [p for p, v in expected.items() if mirror.get(p) != f"V{v}"]
        (rewrites,) = _query("SELECT count(*) FROM chaos_rewrites")[0]
        (patient_dupes,) = _query(
            "SELECT count(*) FROM (SELECT hint_id FROM sync_patient GROUP BY practice_id, hint_id"
            " HAVING count(*) > 1) d"
        )[0]
        (event_dupes,) = _query(
            "SELECT count(*) FROM (SELECT event_id FROM webhooks_webhookevent GROUP BY event_id"
            " HAVING count(*) > 1) d"
        )[0]
        task_states = dict(
            _query(
                "SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
            )
        )
        nothing_ran = (down_at, recovered)
        result = {
            "deliveries_first_round": first_round,
            "sent_unique_events": len(sent_ids),
            "deliveries_sent": counts["sent"],
            "acknowledged": len(acked),
            "stored": len(stored),
            "applied": len(applied),
            "lost": len(acked - applied) + len(wrong),
            "lost_detail": {"acknowledged_not_applied": len(acked - applied), "mirror": wrong[:5]},
            "duplicated": rewrites + patient_dupes + event_dupes,
            "duplicated_detail": {
                "mirror_rewrites": rewrites,
                "patient_rows": patient_dupes,
                "event_rows": event_dupes,
            },
            "patients": len(expected),
            "timeline": timeline,
            "recovery_to_all_applied_s": (
                round(applied_at - recovered, 1) if applied_at else f">{args.deadline}"
            ),
            "last_event_acknowledged_to_all_applied_s": (
                round(applied_at - acked_all, 1) if applied_at else None
            ),
            "applied_per_10_s_after_recovery": _applied_per_10_s(recovered, t0),
            "readyz_while_database_down": watch.between(*nothing_ran),
            "readyz_503_after_last_worker_killed_s": round(red_after, 1) if red_after else None,
            "readyz_before_chaos": watch.between(t0 - 3, t0 + args.kill_at),
            "task_rows": task_states,
            "load_average": os.getloadavg()[0],
            "logs": str(log_dir),
        }
        print(json.dumps(result, indent=2))
        connection.close()
        ok = (
            result["lost"] == 0
            and result["duplicated"] == 0
            and applied_at is not None
            and applied_at - recovered <= 120
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
