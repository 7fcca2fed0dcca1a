"""Models of the project package: system rows only (no practice data lives here)."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each background worker said it was alive (read by /readyz)."""

    worker = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
