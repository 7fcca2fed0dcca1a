"""Memory and time of a CSV upload through the real request path (no Hint needed).

    .venv/bin/python bench/sync/csv_memory.py              # 20 MB / 100k ids; 1.5 M short rows
    .venv/bin/python bench/sync/csv_memory.py --ids 50000  # the 20 MB file in fewer, longer rows

One command: a temporary SQLite app database (migrated), one practice with the contacts the file
names and an admin session opened through the real handshake service, then two files written to
disk as multipart request bodies:
  valid: ~20 MB, `--ids` rows (a report export: id, names, email, a note column), all this
    practice's contacts -> 303, a queued batch with one row per id.
  over the limit: 1.5 M short rows (`1000000\\n`…, ~12 MB) -> 400 naming SYNC_CSV_MAX_ROWS.
Each upload runs in a fresh process through Django's WSGI handler with the body file as
`wsgi.input` (as gunicorn hands it over: Django's multipart parser streams the file part to a
temporary file), after one small warm-up upload. Reported: status, time, peak RSS above the RSS
just before the request (`resource.getrusage` and /proc), and, in a second pass, the peak of
Python allocations (tracemalloc).
"""

import argparse
import io
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")
BOUNDARY = "benchcsvboundary7MA4YWxk"
TARGET_BYTES = 20 * 1024 * 1024 - 64 * 1024  # just under the 20 MB cap, with the multipart frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=100_000, help="rows in the 20 MB file")
    parser.add_argument("--short-rows", type=int, default=1_500_000)
    parser.add_argument("--child", default="")
    parser.add_argument("--body", default="")
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    if args.child == "prepare":
        _prepare(args.ids, Path(args.body))
        return
    if args.child == "upload":
        _upload(Path(args.body), trace=args.trace)
        return

    workdir = Path(tempfile.mkdtemp(prefix="hintbench-csv."))
    env = _env(workdir)
    subprocess.run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    _run(env, "prepare", "--ids", str(args.ids), "--body", str(workdir))
    _short_rows_body(workdir / "short.body", args.short_rows)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, body in [
        (f"20 MB, {args.ids:,} ids", workdir / "valid.body"),
        (f"{args.short_rows:,} short rows", workdir / "short.body"),
    ]:
        size = body.stat().st_size / 1e6
        measured = _run(env, "upload", "--body", str(body))
        traced = _run(env, "upload", "--body", str(body), "--trace")
        print(f"{label} ({size:.1f} MB body): {measured}; {traced}", flush=True)
    print(f"(work files in {workdir})")


def _env(workdir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    drop = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "hintpartner.settings",
            "DJANGO_ENV": "development",
            "DEBUG": "False",  # DEBUG keeps every SQL query in memory
            "DATABASE_URL": f"sqlite:///{workdir / 'app.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "HINT_WEBHOOK_SECRET": secrets.token_hex(32),
            "HINT_API_KEY": "sbx-partner-bench-" + secrets.token_urlsafe(16),
            "HINT_PARTNER_ID": "ptr-bench",
            "HINT_PRODUCT_ID": "ppro-bench",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _run(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [PY, __file__, "--child", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode:
        print(out.stdout, out.stderr[-3000:])
        raise SystemExit(f"{args[0]} failed")
    return out.stdout.strip()


def _setup() -> None:
    import django

    django.setup()


# --- preparing: contacts, a session, the request bodies --------------------------------------


def _prepare(ids: int, workdir: Path) -> None:
    _setup()
    from handshake.models import Practice
    from handshake.services import session_open
    from sync.models import Contact
    from tests.conftest import handshake_payload

    practice = Practice.objects.create(
        hint_id="pra-bench-csv",
        name="Bench CSV",
        installation_status=Practice.InstallationStatus.ACTIVE,
        installation_id="inst-bench",
        token="bench-token",
    )
    Contact.objects.bulk_create(
        [Contact(practice=practice, first_name=f"F{i}", last_name=f"L{i}") for i in range(ids)],
        batch_size=2000,
    )
    pks = list(Contact.objects.for_practice(practice).values_list("pk", flat=True))
    key = session_open(payload=handshake_payload(practice, ["admin"])).key
    (workdir / "session_key").write_text(key)
    # Rows of a report export, padded so the file is just under 20 MB.
    per_row = TARGET_BYTES // len(pks)
    with (workdir / "valid.body").open("wb") as body:
        _frame_open(body, "report.csv")
        body.write(b"Contact ID,First name,Last name,Email,Note\r\n")
        for pk in pks:
            row = f"{pk},First {pk},Last {pk},contact{pk}@example.test,".encode()
            body.write(row + b"x" * max(0, per_row - len(row) - 2) + b"\r\n")
        body.write(b"\r\nContacts report\r\nGenerated by: bench\r\n")
        _frame_close(body)
    with (workdir / "warm.body").open("wb") as body:
        _frame_open(body, "warm.csv")
        body.write(b"Contact ID\r\n999999999\r\n")
        _frame_close(body)


def _short_rows_body(path: Path, rows: int) -> None:
    with path.open("wb") as body:
        _frame_open(body, "short.csv")
        for start in range(0, rows, 100_000):
            body.write(b"".join(b"%d\n" % (1_000_000 + i) for i in range(start, start + 100_000)))
        _frame_close(body)


def _frame_open(body: io.BufferedWriter, name: str) -> None:
    body.write(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
    )


def _frame_close(body: io.BufferedWriter) -> None:
    body.write(f"\r\n--{BOUNDARY}--\r\n".encode())


# --- measuring: one upload through the WSGI handler ------------------------------------------


def _rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _post(app: object, body_path: Path, key: str) -> tuple[str, bytes]:
    from django.urls import reverse

    status: list[str] = []
    with body_path.open("rb") as body:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": reverse("sync:batch-start-csv"),
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(body_path.stat().st_size),
            "HTTP_X_HINT_SESSION_KEY": key,
            "wsgi.input": body,
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))  # type: ignore[operator]
        content = b"".join(chunks)
    return status[0], content


def _upload(body_path: Path, *, trace: bool) -> None:
    _setup()
    import tracemalloc

    from django.core.wsgi import get_wsgi_application

    from sync.models import Batch

    key = (body_path.parent / "session_key").read_text()
    app = get_wsgi_application()
    warm_status, _ = _post(app, body_path.parent / "warm.body", key)  # imports, templates
    assert warm_status.startswith("400"), warm_status
    Batch.objects.all().delete()
    if trace:
        tracemalloc.start()
    before = _rss_now()
    started = time.monotonic()
    status, content = _post(app, body_path, key)
    took = time.monotonic() - started
    if trace:
        _size, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc peak {peak / 1e6:.1f} MB")
        return
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rows = Batch.objects.values_list("total", flat=True).first()
    said = ""
    if status.startswith("400"):
        text = content.decode(errors="replace")
        start = text.find("This file has")
        said = f' "{text[start : text.find(";", start)]}"' if start >= 0 else ""
    print(
        f"{status}{said}{f', batch of {rows:,} rows' if rows else ''}, {took:.2f} s, "
        f"peak RSS +{(peak_rss - before) / 1e6:.1f} MB (from {before / 1e6:.0f} MB)"
    )


if __name__ == "__main__":
    main()
