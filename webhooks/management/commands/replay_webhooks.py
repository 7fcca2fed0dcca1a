"""`manage.py replay_webhooks --status failed`: queue stored events again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from handshake.audit import Actor
from handshake.models import Practice
from webhooks import services
from webhooks.models import WebhookEvent

REPLAYABLE = [WebhookEvent.Status.FAILED, WebhookEvent.Status.PENDING]


class Command(BaseCommand):
    help = "Queue stored webhook events again (failed ones by default), for one practice or all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--status", default=WebhookEvent.Status.FAILED, choices=REPLAYABLE)
        parser.add_argument("--practice", default="", help="Hint's practice id (pra-…)")

    def handle(self, *args: Any, status: str, practice: str, **options: Any) -> None:
        target = None
        if practice:
            target = Practice.objects.filter(hint_id=practice).first()
            if target is None:
                raise CommandError(f"No practice with Hint id {practice!r}.")
        count = services.events_replay(
            practice=target, status=status, actor=Actor.background("manage.py replay_webhooks")
        )
        self.stdout.write(f"Queued {count} {status} event(s) again.")
