"""Clinical notes written here, and the partner interactions they become in Hint's chart."""

from django.db import models
from django.utils import timezone

from hintpartner.crypto import EncryptedTextField
from hintpartner.tenancy import PracticeOwned, PracticeScopedQuerySet

# The interaction's title in Hint when the clinician has not typed one yet.
DEFAULT_HINT_TITLE = "Clinical note"


class NoteQuerySet(PracticeScopedQuerySet):
    def for_patient(self, patient_hint_id: str) -> "NoteQuerySet":
        return self.filter(patient_hint_id=patient_hint_id)

    def drafts(self) -> "NoteQuerySet":
        return self.filter(status=Note.Status.DRAFT)


class Note(PracticeOwned):
    """A clinical note about one Hint patient; saved here first, then mirrored as an interaction."""

    class Status(models.TextChoices):
        DRAFT = "draft", "draft"
        SIGNED = "signed", "signed"
        ADDENDED = "addended", "signed, with addendum"

    class SyncState(models.TextChoices):
        PENDING = "pending", "saved here, syncing to Hint"
        SYNCING = "syncing", "syncing to Hint"
        SYNCED = "synced", "synced to Hint"
        ERROR = "error", "not synced to Hint"

    patient_hint_id = models.CharField(max_length=100)
    # The local mirror of the patient, when sync has one (names in lists); Hint's id is the key.
    patient = models.ForeignKey(
        "sync.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    # Clinical text is encrypted at rest (nothing may filter, order or search by it): the
    # title's 300-character limit is the editor's and `services.TITLE_MAX`, not the column's.
    title = EncryptedTextField(blank=True)
    body = EncryptedTextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    # Optimistic concurrency: every save must name the version it started from.
    version = models.PositiveIntegerField(default=1)

    author = models.ForeignKey(
        "handshake.PracticeUser",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A display name; the only author record for a Hint support session (no user row).
    author_label = models.CharField(max_length=200, blank=True)
    signed_by = models.ForeignKey(
        "handshake.PracticeUser",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    signed_by_label = models.CharField(max_length=200, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_saved_at = models.DateTimeField(auto_now_add=True)
    last_saved_by_label = models.CharField(max_length=200, blank=True)

    # --- the interaction in Hint ---
    hint_interaction_id = models.CharField(max_length=100, blank=True)
    # Set before each create call: if we never saw its answer, Hint may hold the interaction
    # already, so the next attempt looks for our integration_record_id before creating again.
    hint_create_attempted = models.BooleanField(default=False)
    # What Hint last confirmed; a push sends only what differs from these.
    hint_title = EncryptedTextField(blank=True)
    hint_status = models.CharField(max_length=20, blank=True)
    sync_state = models.CharField(
        max_length=20, choices=SyncState.choices, default=SyncState.PENDING
    )
    sync_error = models.TextField(blank=True)  # plain words for the page: what happened, what to do
    sync_attempts = models.PositiveIntegerField(default=0)
    sync_next_attempt_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # A short lease so a page request and a retry task never push the same note at once.
    sync_lease_until = models.DateTimeField(null=True, blank=True)

    objects = NoteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "hint_interaction_id"],
                condition=~models.Q(hint_interaction_id=""),
                name="note_unique_hint_interaction",
            )
        ]
        indexes = [
            models.Index(fields=["practice", "patient_hint_id"], name="note_patient"),
            models.Index(fields=["practice", "author", "status"], name="note_author_status"),
        ]
        ordering = ["-last_saved_at", "-pk"]

    def __str__(self) -> str:
        return self.title or DEFAULT_HINT_TITLE

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_signed(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def desired_hint_title(self) -> str:
        return (self.title.strip() or DEFAULT_HINT_TITLE)[:300]

    @property
    def has_content(self) -> bool:
        return bool(self.title.strip() or self.body.strip())

    @property
    def needs_push(self) -> bool:
        """Whether Hint is behind this note (an empty new draft waits for its first words)."""
        if not self.hint_interaction_id:
            return self.has_content or self.is_signed
        return self.hint_status != self.status or self.hint_title != self.desired_hint_title

    @property
    def is_discardable(self) -> bool:
        """A draft that Hint has never seen (and may never have seen) can simply go."""
        return self.is_editable and not (self.hint_interaction_id or self.hint_create_attempted)

    @property
    def push_due(self) -> bool:
        """Waiting for Hint and not inside a retry's backoff: an open page may push now."""
        if self.sync_state != self.SyncState.PENDING or not self.needs_push:
            return False
        return self.sync_next_attempt_at is None or self.sync_next_attempt_at <= timezone.now()

    @property
    def patient_label(self) -> str:
        if self.patient_id and self.patient and self.patient.full_name:
            return self.patient.full_name
        return "this patient"


class Addendum(PracticeOwned):
    """Text added to a signed note; never edited once saved."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="addenda")
    body = EncryptedTextField()  # encrypted at rest, like the note's text
    author = models.ForeignKey(
        "handshake.PracticeUser",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Addendum to {self.note}"
