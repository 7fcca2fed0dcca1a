import os
import socket
import threading
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from sandbox import delivery
from sandbox.management.commands._guard import require_sandbox_settings
from sandbox.models import Config

FAULT_ENV = {
    "SANDBOX_FAULT_ERROR_RATE": "fault_error_rate",
    "SANDBOX_FAULT_LATENCY_MS": "fault_latency_ms",
    "SANDBOX_FAULT_TIMEOUT_RATE": "fault_timeout_rate",
    "SANDBOX_FAULT_LATE_SUCCESS_RATE": "fault_late_success_rate",
    "SANDBOX_FAULT_SLOW_SECONDS": "fault_slow_seconds",
    "SANDBOX_RATE_LIMIT": "rate_limit_per_second",
    "SANDBOX_PAGE_CAP": "page_cap",
}
INTEGER_FIELDS = ("fault_latency_ms", "page_cap")
# Switches: "1"/"true"/"yes" sets them. Strict is the default (`make run` and the tests).
SWITCH_ENV = {
    "SANDBOX_LENIENT": "strict",  # inverted: lenient = not strict
    "SANDBOX_IGNORE_TIME_FILTERS": "ignore_time_filters",
}


class _NoDelayHandler(WSGIRequestHandler):
    """runserver's handler with TCP_NODELAY: on a kept-alive connection, Nagle's algorithm and
    the client's delayed ACK otherwise hold each answer for ~40 ms (25 requests/s at most)."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Command(BaseCommand):
    help = "Run the sandbox (a local Hint): host page, APIs, /hint-sdk.js and webhook delivery."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--app-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--public-url", default="", help="How browsers reach the sandbox (default host:port)."
        )
        parser.add_argument("--no-delivery", action="store_true", help="Do not send webhooks.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_sandbox_settings()
        config = Config.get()
        config.app_url = options["app_url"].rstrip("/")
        config.public_url = (
            options["public_url"] or f"http://{options['host']}:{options['port']}"
        ).rstrip("/")
        for name, field in FAULT_ENV.items():
            if os.environ.get(name):
                value = float(os.environ[name])
                setattr(config, field, int(value) if field in INTEGER_FIELDS else value)
        for name, field in SWITCH_ENV.items():
            if os.environ.get(name):
                on = os.environ[name].strip().lower() in ("1", "true", "yes", "on")
                setattr(config, field, not on if name == "SANDBOX_LENIENT" else on)
        config.save()
        if not options["no_delivery"]:
            stop = threading.Event()
            threading.Thread(
                target=delivery.run_forever, args=(stop,), name="webhooks", daemon=True
            ).start()
        self.stdout.write(
            f"Sandbox on {config.public_url} (the app: {config.app_url}). Ctrl-C stops it."
        )
        # Django's development server, threaded (one thread per request), no autoreload.
        server = ThreadedWSGIServer((options["host"], options["port"]), _NoDelayHandler)
        server.daemon_threads = True
        server.set_app(WSGIHandler())
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
