"""The Activity page on a million audit entries: seeds them, then times each filter's queries.

    .venv/bin/python bench/audit.py                      # SQLite file in /tmp, 1,000,000 entries
    DATABASE_URL=postgres://… .venv/bin/python bench/audit.py --entries 1000000

One practice holds 90% of the entries (the worst case for its admin), a second the rest. Each
filter is timed as the page runs it: the first page, then a page 200 pages deep (keyset, so no
deeper than the first), and the record history of a contact page; median and p95 in ms. The
query plan of each first page is printed, so a filter that stops using its index shows at once.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/hintpartner-audit-bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hintpartner.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from handshake import activity  # noqa: E402
from handshake.audit import ACTIONS  # noqa: E402
from handshake.models import AuditEntry, Practice  # noqa: E402

PEOPLE = [f"Person {i}" for i in range(40)] + ["Hint support (Sam Helper)"]
ACTION_NAMES = list(ACTIONS)
# Reads dominate a real trail; the rest share what is left.
ACTION_WEIGHTS = [30 if a.endswith(".viewed") else 1 for a in ACTION_NAMES]
SPAN = timedelta(days=6 * 365)
CHUNK = 20_000


def seed(total: int) -> tuple[Practice, Practice]:
    call_command("migrate", verbosity=0)
    a, _ = Practice.objects.get_or_create(hint_id="bench-a", defaults={"name": "Bench A"})
    b, _ = Practice.objects.get_or_create(hint_id="bench-b", defaults={"name": "Bench B"})
    have = AuditEntry.objects.count()
    if have >= total:
        print(f"{have:,} entries already seeded")
        return a, b
    rng = random.Random(22)
    start = datetime.now(UTC) - SPAN
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    columns = (
        "practice_id, created_at, actor_label, is_support, action, target_type, target_id,"
        " patient_hint_id, detail"
    )
    sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    began = time.perf_counter()
    for offset in range(have, total, CHUNK):
        rows = []
        for i in range(offset, min(offset + CHUNK, total)):
            when = start + SPAN * (i / total)  # in time order, as they are written
            person = rng.choice(PEOPLE)
            kind = rng.choice(("contact", "patient", "note", ""))
            rows.append(
                (
                    a.pk if rng.random() < 0.9 else b.pk,
                    connection.ops.adapt_datetimefield_value(when),
                    person,
                    person.startswith("Hint support"),
                    rng.choices(ACTION_NAMES, ACTION_WEIGHTS)[0],
                    kind,
                    str(rng.randrange(1, 20_000)) if kind else "",
                    f"pat-{rng.randrange(5_000)}" if kind else "",
                    "",
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    print(f"seeded {total - have:,} entries in {time.perf_counter() - began:.0f} s")
    return a, b


def timed(run, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        runs.append((time.perf_counter() - began) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    practice, _ = seed(args.entries)
    today = datetime.now(UTC).date()
    filters = {
        "none": activity.ActivityFilter(),
        "person": activity.ActivityFilter(person="Person 7"),
        "action (common)": activity.ActivityFilter(action="patient.viewed"),
        "action (rare)": activity.ActivityFilter(action="note.signed"),
        "patient": activity.ActivityFilter(patient="pat-42"),
        "record (contact)": activity.ActivityFilter(target="contact:4242"),
        "dates (last 7 days)": activity.ActivityFilter(since=today - timedelta(days=7)),
        "dates (a year ago, 1 month)": activity.ActivityFilter(
            since=today - timedelta(days=365), until=today - timedelta(days=335)
        ),
        "person + action + dates": activity.ActivityFilter(
            person="Person 7", action="patient.viewed", since=today - timedelta(days=90)
        ),
    }
    total = AuditEntry.objects.for_practice(practice).count()
    print(f"\n{connection.vendor}, {total:,} entries in the practice; ms, median / p95")
    print(f"{'filter':30} {'first page':>16} {'200 pages deep':>16}  index")
    for name, wanted in filters.items():
        entries = activity.entries_filter(practice=practice, wanted=wanted)

        def first(entries=entries) -> activity.Page:
            page = activity.entries_page(entries)
            activity.rows_describe(practice=practice, entries=page.entries)
            return page

        page = first()
        deep = page
        for _ in range(200):  # walk there once, as a person paging back would
            if deep.older is None:
                break
            deep = activity.entries_page(entries, before=str(deep.older))
        cursor = str(deep.entries[0].pk) if deep.entries else ""
        m1, p1 = timed(first, args.repeat)
        m2, p2 = timed(lambda e=entries, c=cursor: activity.entries_page(e, before=c), args.repeat)
        print(f"{name:30} {m1:7.1f} / {p1:6.1f} {m2:7.1f} / {p2:6.1f}  {_index(entries)}")


def _index(entries) -> str:
    """The index the first page's query uses (SQLite's plan; PostgreSQL's EXPLAIN)."""
    sql, params = entries[: activity.PAGE_SIZE + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " | ".join(row[-1] for row in cursor.fetchall())
        else:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " | ".join(row[0].strip() for row in cursor.fetchall() if "Index" in row[0])
    names = [w for w in plan.replace("(", " ").split() if w.startswith("audit_")]
    return names[0] if names else plan[:60]


if __name__ == "__main__":
    main()
