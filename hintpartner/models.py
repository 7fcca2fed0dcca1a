"""Models of the project package: system rows only (no practice data lives here)."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each background worker said it was alive (read by /readyz)."""

    worker = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class HintBudget(models.Model):
    """One Hint token's use, shared by every process (`hintpartner.hint.budget`): the next free
    slot under the per-second limit and the calls counted on `day` (UTC)."""

    key = models.CharField(max_length=64, unique=True)  # sha256 of the token, never the token
    next_at = models.FloatField(default=0.0)  # epoch seconds, by the database's clock
    day = models.DateField()
    used = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"Hint budget {self.key[:8]}…: {self.used} on {self.day}"
