"""Register this app's webhook endpoint with Hint and list the event types Hint can send."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hintpartner.hint import api, errors
from webhooks import registration


class Command(BaseCommand):
    help = (
        "Register the webhook endpoint (by default APP_URL + /hint/webhooks) with Hint using "
        "the partner key, unless Hint posts there already; then list the event types Hint can "
        "send. The settings' webhooks panel does the same with 'Register again'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="", help="the public URL of /hint/webhooks (default: from APP_URL)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = registration.webhook_endpoint_register(url=options["url"])
        except registration.RegistrationRefused as exc:
            raise CommandError(f"--url: {exc}") from exc
        except errors.HintError as exc:
            raise CommandError(f"Hint did not register the endpoint: {exc}") from exc
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Registered webhook endpoint: {result.url}"))
        else:
            self.stdout.write(f"Hint already posts to {result.url}: nothing to change.")
        try:
            types = api.webhook_event_types()
        except errors.HintError as exc:
            self.stderr.write(f"Could not list the event types: {exc}")
            return
        self.stdout.write(f"Event types Hint can send ({len(types)}):")
        for event_type in sorted(types):
            self.stdout.write(f"  {event_type}")
