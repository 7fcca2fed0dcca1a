"""Practices, their users, embedded sessions, the handshake replay store and the audit trail."""

from datetime import datetime
from typing import Any

from django.db import models

from hintpartner.crypto import EncryptedTextField
from hintpartner.tenancy import PracticeOwned, PracticeScopedQuerySet


class PracticeQuerySet(models.QuerySet):
    def connected(self) -> "PracticeQuerySet":
        return self.filter(CONNECTED)


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
    installation_changed_at = models.DateTimeField(null=True, blank=True)
    # Which name this practice's Hint gives the street lines (`address_line1` or
    # `address_line_1`), learnt from the patients it returns; blank until one was read. A
    # database default too, so code from before this column can still insert practices.
    address_shape = models.CharField(max_length=20, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PracticeQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name or self.hint_id

    @property
    def is_connected(self) -> bool:
        """`CONNECTED` (below), tested on this row's own fields."""
        return self.installation_status == self.InstallationStatus.ACTIVE and bool(self.token)


# "The practice is connected": an active installation whose practice token we hold (background
# work has a token to call Hint with). Queries use it through `Practice.objects.connected()` or
# compile it (the webhook receiver's SQL); `Practice.is_connected` is the same test on a row in
# hand, kept next to it.
CONNECTED = models.Q(installation_status=Practice.InstallationStatus.ACTIVE) & ~models.Q(token="")


class PracticeUser(PracticeOwned):
    """A practice's user as the last handshake described them; roles refresh at every handshake."""

    hint_id = models.CharField(max_length=100)
    email = models.CharField(max_length=320, blank=True)
    first_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=300, blank=True)
    roles = models.JSONField(default=list, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "hint_id"], name="practiceuser_unique_id")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        names = ("name", "first_name", "last_name", "email")
        return self.display_name_of({field: getattr(self, field) for field in names})

    @staticmethod
    def display_name_of(fields: dict[str, Any]) -> str:
        """The display name of a user with these field values (name, first and last, email)."""
        full = f"{fields['first_name']} {fields['last_name']}".strip()
        return fields["name"] or full or fields["email"] or "A practice user"


class HintSession(PracticeOwned):
    """One embed session opened by a handshake. Only a hash of its key is stored."""

    # Looked up by `key_hash` and swept by `expires_at` only: a handshake writes no index it does
    # not need (no practice or user index; a unique constraint, not `unique=True`, which adds a
    # `LIKE` index on PostgreSQL).
    practice = models.ForeignKey(
        "handshake.Practice", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    key_hash = models.CharField(max_length=64)
    user = models.ForeignKey(
        PracticeUser, null=True, blank=True, on_delete=models.CASCADE, db_index=False
    )
    access_context = models.CharField(max_length=50, default="standard")
    # Who a support session is (from the handshake's user), for banners and the audit trail.
    support_label = models.CharField(max_length=300, blank=True)
    # The handshake's session-scoped Hint key (not the practice token), encrypted at rest.
    access_token = EncryptedTextField(blank=True, default="")
    patient_id = models.CharField(max_length=100, blank=True)
    patient_name = models.CharField(max_length=300, blank=True)
    interaction_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_hash"], name="hintsession_key_hash")]

    def __str__(self) -> str:
        return f"session of {self.practice} ({self.access_context})"

    @property
    def is_support(self) -> bool:
        return self.access_context != "standard"

    def is_valid_at(self, now: datetime, *, idle_seconds: int) -> bool:
        return now < self.expires_at and (now - self.last_seen_at).total_seconds() < idle_seconds


class HandshakeSeen(PracticeOwned):
    """A timestamped handshake already accepted: refuses its replay until it would be stale."""

    # Only the digest (the replay check) and the sweep's `expires_at` are indexed.
    practice = models.ForeignKey(
        "handshake.Practice", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    digest = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["digest"], name="handshakeseen_digest")]

    def __str__(self) -> str:
        return f"handshake seen until {self.expires_at:%Y-%m-%d %H:%M}"


class AuditRefused(Exception):
    """An audit entry was about to be changed or deleted: the trail is append-only."""


class AuditQuerySet(PracticeScopedQuerySet):
    """Entries are added, read and, past retention, pruned (`handshake.audit.audit_prune`, with
    its own SQL): never updated or deleted through the ORM, so no view or service can."""

    def update(self, **kwargs: object) -> int:
        raise AuditRefused("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditRefused("Audit entries cannot be deleted.")


class AuditEntry(PracticeOwned):
    """Who did what to which record: a practice user, a Hint support session, or background work.

    Append-only: `save()` adds a row and refuses to change one, `delete()` refuses.
    """

    # The indexes below all lead with the practice; no query reads entries by user.
    practice = models.ForeignKey(
        "handshake.Practice", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        PracticeUser, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    actor_label = models.CharField(max_length=300)
    is_support = models.BooleanField(default=False)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    # The Hint patient whose data the entry touches (a patient, their contact or note): the
    # Activity page's patient filter and the patient page's history read it.
    patient_hint_id = models.CharField(max_length=100, blank=True)
    detail = models.TextField(blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        # One per filter of the Activity page, each ending in its order (newest first), so a
        # page is an index range read whatever the table's size (bench/audit.py).
        indexes = [
            models.Index(fields=["practice", "-created_at", "-id"], name="audit_practice_time"),
            models.Index(
                fields=["practice", "action", "-created_at", "-id"], name="audit_practice_action"
            ),
            models.Index(
                fields=["practice", "actor_label", "-created_at", "-id"],
                name="audit_practice_actor",
            ),
            models.Index(
                fields=["practice", "patient_hint_id", "-created_at", "-id"],
                name="audit_practice_patient",
            ),
            models.Index(
                fields=["practice", "target_type", "target_id", "-created_at", "-id"],
                name="audit_practice_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AuditRefused("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AuditRefused("Audit entries cannot be deleted.")
