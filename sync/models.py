"""Patient (a mirror of Hint's patients) and, later, contacts, batches and the sync log."""

from django.db import models

from hintpartner.tenancy import PracticeOwned, PracticeScopedQuerySet


class PatientQuerySet(PracticeScopedQuerySet):
    def visible(self) -> "PatientQuerySet":
        """Patients shown in lists: tombstones (destroyed in Hint) are hidden."""
        return self.filter(destroyed_at__isnull=True)


class Patient(PracticeOwned):
    """One Hint patient as this practice last saw it: the whole object plus columns for lists."""

    hint_id = models.CharField(max_length=100)
    first_name = models.CharField(max_length=200, blank=True)
    middle_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    dob = models.DateField(null=True, blank=True)
    email = models.CharField(max_length=320, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    membership_status = models.CharField(max_length=50, blank=True)
    practitioner_name = models.CharField(max_length=200, blank=True)
    provider_web_link = models.URLField(max_length=500, blank=True)
    # Normalized keys for demographic matching and search (see sync.matching.normalize_name).
    first_name_key = models.CharField(max_length=200, blank=True)
    last_name_key = models.CharField(max_length=200, blank=True)
    email_key = models.CharField(max_length=320, blank=True)
    # The whole Hint object as last applied.
    data = models.JSONField(default=dict)
    # Hint's updated_at of the state applied; an older event never overwrites a newer state.
    hint_updated_at = models.DateTimeField(null=True, blank=True)
    inactive = models.BooleanField(default=False)
    # Tombstone: destroyed in Hint; hidden from lists, kept for the audit trail.
    destroyed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "hint_id"], name="patient_unique_hint_id")
        ]
        indexes = [
            models.Index(
                fields=["practice", "last_name_key", "first_name_key", "dob"],
                name="patient_demographic",
            ),
            models.Index(fields=["practice", "first_name_key"], name="patient_first_key"),
            models.Index(fields=["practice", "email_key"], name="patient_email"),
            models.Index(fields=["practice", "dob"], name="patient_dob"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.hint_id

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None
