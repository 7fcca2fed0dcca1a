"""Handshake latency over HTTP: signed handshakes against a running app; prints p50/p95/p99.

    .venv/bin/python bench/handshake.py --url http://127.0.0.1:8000 --count 300

Run against `make run` or any `runserver`/gunicorn; it reads the signing secret from
HINT_WEBHOOK_SECRET or `.dev-secrets.json`. Each request carries a fresh timestamp, so every one
goes through the freshness check and the replay store too.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hintpartner.hint.signing import sign


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    secret = (
        os.environ.get("HINT_WEBHOOK_SECRET")
        or json.loads((Path(__file__).resolve().parent.parent / ".dev-secrets.json").read_text())[
            "HINT_WEBHOOK_SECRET"
        ]
    )
    session = requests.Session()
    times = []
    for i in range(args.count):
        body = json.dumps(
            {
                "timestamp": datetime.now(UTC).isoformat(),
                "user": {"id": f"bench-user-{i % 20}", "partner_roles": ["staff"]},
                "practice": {"id": f"bench-practice-{i % 5}", "name": "Bench"},
                "access_token": "bench-session-token",
                "nonce": i,
            }
        ).encode()
        started = time.perf_counter()
        response = session.post(
            args.url + "/hint/handshake",
            data=body,
            headers={"Content-Type": "application/json", "X-Hint-Signature": sign(body, secret)},
            timeout=10,
        )
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"handshake {i} answered {response.status_code}: {response.text[:200]}")
    times.sort()
    q = statistics.quantiles(times, n=100)
    print(f"{args.count} handshakes: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms")


if __name__ == "__main__":
    main()
