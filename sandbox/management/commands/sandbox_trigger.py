import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sandbox.control import patient_trigger
from sandbox.management.commands._guard import require_sandbox_settings
from sandbox.models import Practice
from sandbox.services import SandboxError


class Command(BaseCommand):
    help = (
        "Change a patient as a practice user would, so the sandbox sends the webhook: "
        "sandbox_trigger create|update|delete|deactivate [--practice ID] [--patient ID] "
        "[--fields JSON]. runsandbox delivers the event."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=["create", "update", "delete", "deactivate"])
        parser.add_argument("--practice", default="", help="Default: the first practice.")
        parser.add_argument("--patient", default="", help="Hint id or integration_record_id.")
        parser.add_argument("--fields", default="", help='e.g. \'{"email": "a@example.com"}\'')
        parser.add_argument("--count", type=int, default=1, help="Repeat, for a stream of events.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_sandbox_settings()
        practice = (
            Practice.objects.filter(hint_id=options["practice"]).first()
            if options["practice"]
            else Practice.objects.order_by("id").first()
        )
        if practice is None:
            raise CommandError("No such practice. Run manage.py sandbox_seed first.")
        try:
            fields = json.loads(options["fields"]) if options["fields"] else {}
        except ValueError as exc:
            raise CommandError("--fields must be a JSON object.") from exc
        for _ in range(max(1, options["count"])):
            try:
                result = patient_trigger(
                    practice=practice,
                    kind=options["kind"],
                    patient_id=options["patient"],
                    fields=fields,
                )
            except SandboxError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(
                f"{options['kind']} {result['patient_id']}: event {result['event_id']} "
                f"({result['event_status']})"
            )
