"""Queue a push for every note still waiting for Hint (after a lost queue, or from cron)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from interactions import services
from interactions.models import Note


class Command(BaseCommand):
    help = (
        "Queue a push to Hint for every note saved here that Hint is still behind on. Safe to run "
        "at any time: pushes are idempotent and a note being pushed is skipped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        waiting = (
            # Every practice at once, on purpose: each push loads the note through its own
            # practice and uses that practice's token.
            Note.objects.filter(sync_state__in=[Note.SyncState.PENDING, Note.SyncState.SYNCING])
            .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=timezone.now()))
            .only("pk", "practice_id")
        )
        count = 0
        for note in waiting.iterator():
            services.note_push_queue(note=note)
            count += 1
        self.stdout.write(f"Queued {count} note(s) for Hint.")
