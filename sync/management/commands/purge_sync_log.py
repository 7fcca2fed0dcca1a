"""`python manage.py purge_sync_log`: delete sync log entries past each practice's retention."""

from typing import Any

from django.core.management.base import BaseCommand

from sync.options import sync_log_purge


class Command(BaseCommand):
    help = "Delete sync log entries older than each practice's retention (Sync options)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = sync_log_purge()
        self.stdout.write(f"Deleted {deleted} sync log entries past their retention.")
