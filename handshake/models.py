"""Practices, and (later) their users, sessions and installations."""

from django.db import models

from hintpartner.crypto import EncryptedTextField


class PracticeQuerySet(models.QuerySet):
    def connected(self) -> "PracticeQuerySet":
        return self.filter(installation_status=Practice.InstallationStatus.ACTIVE).exclude(token="")


class Practice(models.Model):
    """A Hint practice that opened or installed the app. Ids are opaque strings from Hint."""

    class InstallationStatus(models.TextChoices):
        NONE = "none", "not installed"
        ONBOARDING = "onboarding", "onboarding"
        PENDING = "pending", "pending activation"
        ACTIVE = "active", "active"
        DEACTIVATED = "deactivated", "deactivated"
        DISCONNECTED = "disconnected", "disconnected (token rejected)"

    hint_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=300, blank=True)
    product_id = models.CharField(max_length=100, blank=True)
    installation_id = models.CharField(max_length=100, blank=True)
    installation_status = models.CharField(
        max_length=20, choices=InstallationStatus.choices, default=InstallationStatus.NONE
    )
    # The practice token from the installation: for background work only, never for a session.
    token = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PracticeQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name or self.hint_id

    @property
    def is_connected(self) -> bool:
        return self.installation_status == self.InstallationStatus.ACTIVE and bool(self.token)
