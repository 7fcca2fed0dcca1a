"""Surface page weight: every byte a surface loads (page, htmx panels, our static files).

    .venv/bin/python bench/page_weight.py

Uses a throwaway SQLite file, a practice with 60 mirrored patients and an admin+clinician
session. Reports raw and transferred sizes per surface: production serves static files
gzip-compressed (whitenoise); pages go uncompressed, since compressing a page that holds a
secret invites BREACH. Also lists assets from other hosts (only Hint's SDK is allowed).
Target: < 60 KB transferred.
"""

import gzip
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hintpartner.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/weight.sqlite3"

import django  # noqa: E402

django.setup()

from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from handshake.models import Practice  # noqa: E402
from sync.mirror import patient_apply  # noqa: E402
from tests.conftest import open_session  # noqa: E402

SURFACES = ("core_page", "settings", "clinical_chart", "clinical_interaction")


def main() -> None:
    call_command("migrate", verbosity=0)
    practice = Practice.objects.create(
        hint_id="pra-weight", name="Weight Clinic", installation_status="active", token="t"
    )
    for i in range(60):
        patient_apply(
            practice=practice,
            data={
                "id": f"pat-{i}",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "dob": "1980-01-01",
                "email": f"p{i}@example.com",
                "updated_at": "2026-01-01T00:00:00Z",
            },
        )
    key = open_session(practice, ["admin", "clinician"], patient_id="pat-1")
    client = Client()
    for surface in SURFACES:
        page = client.get(f"/hint/{surface}", {"session_key": key}).content
        html = [page]  # pages and panels are sent uncompressed (they carry the session key)
        for url in re.findall(rb'hx-get="([^"]+)"[^>]*hx-trigger="load', page):
            html.append(client.get(url.decode().replace("&amp;", "&")).content)
        static = [
            Path(finders.find(asset.decode())).read_bytes()
            for asset in set(re.findall(rb'(?:src|href)="/static/([^"]+)"', page))
        ]
        external = [u.decode() for u in re.findall(rb'(?:src|href)="(https?://[^"]+)"', page)]
        raw = sum(len(p) for p in html + static) / 1024
        sent = (sum(len(p) for p in html) + sum(len(gzip.compress(p, 9)) for p in static)) / 1024
        print(
            f"{surface:22} {len(html) + len(static)} requests  raw {raw:5.1f} KB  "
            f"transferred {sent:5.1f} KB  other hosts: {external or 'none'}"
        )


if __name__ == "__main__":
    main()
