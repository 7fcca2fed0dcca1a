"""Compare Hint's registration of this app with this deployment; `--apply` sets what differs."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hintpartner.hint import errors, setup


class Command(BaseCommand):
    help = (
        "Read Hint's partner, app, anchors and webhook endpoints with the partner key "
        "(HINT_API_KEY) and print what differs from this deployment (APP_URL, "
        "HINT_WEBHOOK_URL, HINT_SETTINGS_LABEL). --apply sets it through Hint's partner API; a "
        "dry run is the default."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--apply", action="store_true", help="change Hint's registration")
        mode.add_argument("--dry-run", action="store_true", help="only print (the default)")

    def handle(self, *args: Any, **options: Any) -> None:
        want = setup.wanted()
        where = "localhost mode: Hint's localhost_* fields" if want.localhost else "https"
        self.stdout.write(f"Hint: {settings.HINT_API_URL}")
        self.stdout.write(f"This deployment: {settings.APP_URL} ({where})")
        self.stdout.write(f"Webhooks to: {want.webhook_url}")
        try:
            registration = setup.registration_read()
        except errors.HintError as exc:
            raise CommandError(f"Could not read Hint's registration of the app: {exc}") from exc
        todo = setup.differences(registration, want)
        if not todo:
            self.stdout.write(self.style.SUCCESS("Hint's registration matches: nothing to change."))
            return
        self.stdout.write(f"What differs ({len(todo)}):")
        for difference in todo:
            self.stdout.write(f"  {difference.sentence()}")
        if not options["apply"]:
            self.stdout.write("Dry run: nothing changed. Run with --apply to set these in Hint.")
            return
        applied = setup.registration_apply(registration, want)
        for label in applied.done:
            self.stdout.write(f"  set {label}")
        for failure in applied.failed:
            self.stderr.write(f"  NOT set {failure}")
        try:
            left = setup.differences(setup.registration_read(), want)
        except errors.HintError as exc:
            raise CommandError(f"Set, but could not read Hint's registration back: {exc}") from exc
        if left or applied.failed:
            for difference in left:
                self.stderr.write(f"  still differs: {difference.sentence()}")
            raise CommandError(
                "Hint's registration still differs; set the rest in Hint's partner portal."
            )
        self.stdout.write(self.style.SUCCESS("Done: Hint's registration matches this deployment."))
