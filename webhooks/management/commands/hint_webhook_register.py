"""Register this app's webhook endpoint with Hint and list the event types Hint can send."""

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hintpartner.hint import api, errors


class Command(BaseCommand):
    help = (
        "Register the webhook endpoint (e.g. https://partner.example.com/hint/webhooks) with "
        "Hint using the partner key, then list the event types Hint can send."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="the public URL of /hint/webhooks")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--url must be an http(s) URL, got {url!r}.")
        try:
            endpoint = api.webhook_endpoint_register(url=url)
        except errors.HintError as exc:
            raise CommandError(f"Hint did not register the endpoint: {exc}") from exc
        registered = endpoint.get("webhook_url") or endpoint.get("url") or url
        self.stdout.write(self.style.SUCCESS(f"Registered webhook endpoint: {registered}"))
        try:
            types = api.webhook_event_types()
        except errors.HintError as exc:
            self.stderr.write(f"Could not list the event types: {exc}")
            return
        self.stdout.write(f"Event types Hint can send ({len(types)}):")
        for event_type in sorted(types):
            self.stdout.write(f"  {event_type}")
