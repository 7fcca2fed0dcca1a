"""Check this deployment against the Hint at HINT_API_URL; exit non-zero when anything fails."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from handshake import doctor


class Command(BaseCommand):
    help = (
        "Check the partner key, Hint's registration of the app, the surfaces, the handshake, "
        "the webhook endpoint (with a signed probe), the clock, and each connected practice's "
        "token and patient shapes. Prints pass/fail and what to do; exits 1 when a check fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Hint: {settings.HINT_API_URL}   this app: {settings.APP_URL}")
        failed = 0
        total = 0
        for check in doctor.checks():
            total += 1
            if check.ok:
                self.stdout.write(self.style.SUCCESS("PASS") + f"  {check.name}: {check.detail}")
                continue
            failed += 1
            self.stdout.write(self.style.ERROR("FAIL") + f"  {check.name}: {check.detail}")
            if check.fix:
                self.stdout.write(f"      what to do: {check.fix}")
        if failed:
            self.stdout.write(self.style.ERROR(f"{failed} of {total} checks failed."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(f"All {total} checks passed."))
