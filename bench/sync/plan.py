"""A batch plan (preview) of all patients vs the batch's own reading phase, interleaved.

    .venv/bin/python bench/sync/plan.py                  # 10k patients, 3 rounds
    .venv/bin/python bench/sync/plan.py --patients 10000 --rounds 5

One command: starts a sandbox like `bench/sync/run.py` (own SQLite file, free port, no webhook
delivery, 100 req/s per token), seeds one practice, installs the app and gives 10% of the
patients a matching contact (option "create a contact when no match" on), once. Then each round
runs, in fresh child processes on fresh copies of that app database, the patients batch up to
the end of its reading phase (every contact in step; the write-back pass is not run) and the
plan of the same batch (reads every patient, decides, saves the plan's rows, writes nothing),
in alternating order. Printed per round: both times, the ratio plan / batch (target <= 1.25x)
and the load average; then the median ratio.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # bench/sync/run.py: the sandbox and the app's set-up

ROOT, PY = bench.ROOT, bench.PY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shared = bench.shared_secrets()
    workdir = Path(tempfile.mkdtemp(prefix="hintbench-plan."))
    port = bench.free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    senv = bench._env(
        shared,
        SANDBOX_DATABASE_URL=f"sqlite:///{workdir / 'sandbox.sqlite3'}",
        SANDBOX_URL=sandbox_url,
    )
    practice = f"pra-bench-plan-{args.patients}"
    bench._manage(senv, "sandbox_migrate")
    bench._manage(
        senv,
        "sandbox_seed",
        "--practice",
        practice,
        "--patients",
        str(args.patients),
        "--seed",
        "7",
    )
    try:
        with bench.running_sandbox(senv, port, workdir / "sandbox.log"):
            prepared = workdir / "app-prepared.sqlite3"
            _child(shared, workdir, sandbox_url, prepared, "prepare", practice, migrate=True)
            ratios = []
            for round_ in range(1, args.rounds + 1):
                order = ("batch", "plan") if round_ % 2 else ("plan", "batch")
                seconds = {}
                for kind in order:
                    db = workdir / f"app-{kind}-{round_}.sqlite3"
                    shutil.copyfile(prepared, db)
                    out = _child(shared, workdir, sandbox_url, db, kind, practice)
                    seconds[kind] = out["seconds"]
                    counts = json.dumps(out["counts"], sort_keys=True)
                    print(
                        f"  {kind}: {out['seconds']:.2f} s, {out['requests']} requests, "
                        f"status {out['status']}, outcomes {counts}",
                        flush=True,
                    )
                    db.unlink()
                ratio = seconds["plan"] / seconds["batch"]
                ratios.append(ratio)
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(
                    f"round {round_} ({' then '.join(order)}): batch reading phase "
                    f"{seconds['batch']:.2f} s, plan {seconds['plan']:.2f} s, ratio {ratio:.2f}x "
                    f"(target <= 1.25x); load average {load}",
                    flush=True,
                )
            print(
                f"{args.patients} patients, {args.rounds} rounds: plan / batch reading phase, "
                f"median {statistics.median(ratios):.2f}x "
                f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _child(
    shared: dict[str, str],
    workdir: Path,
    sandbox_url: str,
    db: Path,
    step: str,
    practice: str,
    migrate: bool = False,
) -> dict:
    env = bench._env(
        shared,
        DJANGO_SETTINGS_MODULE="hintpartner.settings",
        DJANGO_ENV="development",
        DATABASE_URL=f"sqlite:///{db}",
        HINT_API_URL=sandbox_url,
        APP_URL="http://127.0.0.1:1",
        HINT_RATE_LIMIT_PER_SECOND="100",
        DEBUG="False",
        BENCH_SANDBOX_DB=str(workdir / "sandbox.sqlite3"),
    )
    if migrate:
        bench._manage(env, "migrate", "--no-input", "-v", "0")
    out = subprocess.run(
        [PY, __file__, "--child", step, "--practice", practice],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        print(out.stdout, out.stderr[-3000:])
        raise SystemExit(f"{step} failed")
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def child(step: str, practice_id: str) -> None:
    """In a fresh process on its own app database: prepare, or time one run."""
    if step == "prepare":
        bench.prepare_patients(practice_id, 0)
        return
    from handshake.audit import Actor
    from handshake.models import Practice
    from sync import batch_control, batch_patients
    from sync.models import Batch

    practice = Practice.objects.get(hint_id=practice_id)
    counter = bench.Counter()
    counter.install()
    # The batch's reading phase only: every contact in step, the write-back not run.
    batch_patients.send_owed = lambda batch, hint: None
    batch = batch_control.batch_start_patients(
        practice=practice, actor=Actor(label="bench"), plan=step == "plan"
    )
    started = time.monotonic()
    batch_control.batch_run(batch_id=batch.pk)
    seconds = time.monotonic() - started
    batch = Batch.objects.get(pk=batch.pk)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "status": batch.status,
                "counts": batch.counts,
                "requests": counter.total,
            }
        )
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--child", choices=["prepare", "batch", "plan"])
        parser.add_argument("--practice")
        a = parser.parse_args()
        import django

        django.setup()
        child(a.child, a.practice)
    else:
        main()
