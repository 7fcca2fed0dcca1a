"""Handshakes against the app and the bare bound (bench/bound.py), interleaved, on PostgreSQL.

    .venv/bin/python bench/handshake.py                     # private PostgreSQL, both servers
    .venv/bin/python bench/handshake.py --url http://127.0.0.1:8000 --count 300   # latency only

The default run starts a private PostgreSQL cluster and two gunicorns with the same settings
(`-k gthread -w 2 --threads 8`, keep-alive): the app, and the bare app that only checks the
signature and stores the replay digest and a session row in one statement. For each of
`--rounds` rounds, in alternating order, it measures on each server: throughput at c=8
(`--seconds`, keep-alive connections, requests signed in advance) and latency at c=1
(`--count` sequential handshakes). It prints every round with the load average and the app's
figures as ratios of the bound's in the same round. Every handshake carries a fresh timestamp
and nonce, so every one goes through the freshness check and the replay store; practices and
users repeat (5 and 20), as when a practice's staff reopen the app.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "webhooks"))
from hintpartner.hint.signing import sign  # noqa: E402


def handshakes(count: int, secret: str, run: str) -> list[tuple[bytes, str]]:
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "timestamp": datetime.now(UTC).isoformat(),
                "user": {"id": f"bench-user-{i % 20}", "partner_roles": ["staff"]},
                "practice": {"id": f"bench-practice-{i % 5}", "name": "Bench"},
                "access_token": "bench-session-token",
                "nonce": f"{run}-{i}",
            }
        ).encode()
        out.append((body, sign(body, secret)))
    return out


def url_mode(url: str, count: int, secret: str) -> None:
    import requests

    session = requests.Session()
    times = []
    for body, signature in handshakes(count, secret, "url"):
        started = time.perf_counter()
        response = session.post(
            url + "/hint/handshake",
            data=body,
            headers={"Content-Type": "application/json", "X-Hint-Signature": signature},
            timeout=10,
        )
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"handshake answered {response.status_code}: {response.text[:200]}")
    q = statistics.quantiles(sorted(times), n=100)
    print(f"{count} handshakes: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="", help="only time --count handshakes against this")
    parser.add_argument("--count", type=int, default=300, help="sequential handshakes (c=1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="c=8 phase length")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if args.url:
        secret = (
            os.environ.get("HINT_WEBHOOK_SECRET")
            or json.loads((ROOT / ".dev-secrets.json").read_text())["HINT_WEBHOOK_SECRET"]
        )
        url_mode(args.url, args.count, secret)
        return

    import run as hooks_bench  # bench/webhooks/run.py: cluster, gunicorn, asyncio sender

    with ExitStack() as stack:
        database_url, postmaster = stack.enter_context(hooks_bench.private_postgres())
        base, name = database_url.rsplit("/", 1)
        subprocess.run(["psql", base + "/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_ENV": "development",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
        }
        env.pop("REDIS_URL", None)
        subprocess.run(
            [str(hooks_bench.PYTHON), "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
        import django

        django.setup()
        from django.conf import settings

        secret = settings.HINT_WEBHOOK_SECRET
        benv = hooks_bench.bound_env(env, database_url, secret)
        gunicorn = hooks_bench.gunicorn
        with (
            gunicorn(env, args.workers, args.threads) as (port, app_pid),
            gunicorn(benv, args.workers, args.threads, "bench.bound:application") as (bport, bpid),
        ):
            meter = hooks_bench.CpuMeter
            path = "/hint/handshake"
            for target in (port, bport):  # warm-up: practices, users, connections
                hooks_bench.send_events(target, handshakes(200, secret, "warm"), 4, 10, path)
            figures: dict[str, dict[str, list[float]]] = {
                "app": {"rate": [], "p95": []},
                "bound": {"rate": [], "p95": []},
            }
            server_pid = {"app": app_pid, "bound": bpid}
            for round_ in range(args.rounds):
                order = [("app", port), ("bound", bport)]
                for name, target in order if round_ % 2 == 0 else order[::-1]:
                    tag = f"{round_}-{name}"
                    many = handshakes(args.concurrency * 2000, secret, tag + "-c8")
                    server_cpu, db_cpu = meter([server_pid[name]]), meter([postmaster])
                    sender_cpu = time.process_time()
                    c8 = hooks_bench.send_events(target, many, args.concurrency, args.seconds, path)
                    done = max(1, sum(c8["statuses"].values()))
                    server_ms, db_ms, sender_ms = (
                        seconds * 1000 / done
                        for seconds in (
                            server_cpu.seconds(),
                            db_cpu.seconds(),
                            time.process_time() - sender_cpu,
                        )
                    )
                    one = handshakes(args.count, secret, tag + "-c1")
                    c1 = hooks_bench.send_events(target, one, 1, 120, path)
                    bad = {k: v for k, v in (c8["statuses"] | c1["statuses"]).items() if k != 200}
                    figures[name]["rate"].append(c8["per_second"])
                    figures[name]["p95"].append(c1["p95_ms"])
                    print(
                        f"handshake round {round_ + 1} {name}: c=8 {c8['per_second']}/s "
                        f"(p99 {c8['p99_ms']} ms); c=1 p50 {c1['p50_ms']} ms, p95 {c1['p95_ms']} "
                        f"ms; not 200: {bad or 0}; CPU per handshake at c=8: server "
                        f"{server_ms:.2f} ms, PostgreSQL {db_ms:.2f} ms, "
                        f"sender {sender_ms:.2f} ms; "
                        f"load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
            print(
                hooks_bench.ratio_line(
                    "handshake throughput c=8", figures["app"]["rate"], figures["bound"]["rate"]
                )
            )
            print(
                f"handshake p95 at c=1: app {figures['app']['p95']} ms, "
                f"bound {figures['bound']['p95']} ms"
            )
        from django.db import connection

        connection.close()


if __name__ == "__main__":
    main()
