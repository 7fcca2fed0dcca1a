#!/usr/bin/env python
"""Django's command-line utility for hintpartner."""

import os
import sys

# The sandbox (a local Hint) runs under its own settings and database; the app's settings never
# install it, so production cannot serve it.
SANDBOX_COMMANDS = {"runsandbox", "sandbox_migrate", "sandbox_seed", "sandbox_trigger"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in SANDBOX_COMMANDS:
        os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hintpartner.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
