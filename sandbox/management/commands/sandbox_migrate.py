from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from sandbox.management.commands._guard import require_sandbox_settings


class Command(BaseCommand):
    help = "Create or update the sandbox's own database (sandbox.sqlite3 or SANDBOX_DATABASE_URL)."

    def handle(self, *args: Any, **options: Any) -> None:
        require_sandbox_settings()
        call_command("migrate", interactive=False, verbosity=max(0, options["verbosity"] - 1))
