"""Patient (a mirror of Hint's patients), contacts, batches and the sync log."""

from typing import Any

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
            # Prefix search (LIKE 'abc%') on PostgreSQL under any collation; SQLite ignores
            # opclasses and its default binary collation serves prefixes from the ones above.
            models.Index(
                fields=["practice", "last_name_key"],
                name="patient_last_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["practice", "first_name_key"],
                name="patient_first_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.Index(
                fields=["practice", "email_key"],
                name="patient_email_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.hint_id

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None


# --- Contacts (ours), batches and the sync log ------------------------------------------------


class ContactQuerySet(PracticeScopedQuerySet):
    def linked(self) -> "ContactQuerySet":
        return self.exclude(hint_patient_id="")

    def unlinked(self) -> "ContactQuerySet":
        return self.filter(hint_patient_id="")

    def writes_due(self, now: Any) -> "ContactQuerySet":
        """Contacts (of every practice: the worker's sweep) whose owed write may be sent now."""
        return self.filter(hint_write_state=Contact.HintWrite.WAITING, hint_write_next_at__lte=now)


class Contact(PracticeOwned):
    """The partner's own record of a person, optionally linked to one Hint patient.

    Two-way fields follow the seed guide's list (plus last name); the Hint-only fields below
    them are copied from the patient and read-only here. `sync.fieldmap` says which is which.
    """

    class HintWrite(models.TextChoices):
        """Where a change made here stands with Hint (`sync.contact_writes`)."""

        NONE = "", "nothing owed"  # Hint holds what we hold (or the contact is not linked)
        WAITING = "waiting", "waiting to reach Hint"  # sent in the background, with retries
        FAILED = "failed", "not accepted by Hint"  # Hint refused it; a person must act

    class Sex(models.TextChoices):
        BLANK = "", "not set"
        MALE = "male", "male"
        FEMALE = "female", "female"
        INTERSEX = "intersex", "intersex"

    # two-way
    name_prefix = models.CharField(max_length=50, blank=True)
    first_name = models.CharField(max_length=200, blank=True)
    middle_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    dob = models.DateField("date of birth", null=True, blank=True)
    sex = models.CharField(max_length=20, choices=Sex.choices, blank=True)
    gender_identity = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=320, blank=True)
    mobile_phone = models.CharField(max_length=50, blank=True)
    home_phone = models.CharField(max_length=50, blank=True)
    office_phone = models.CharField(max_length=50, blank=True)
    address_line1 = models.CharField(max_length=300, blank=True)
    address_line2 = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=100, blank=True)
    zip_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    # Hint -> contact only (read-only here)
    practitioner_name = models.CharField(max_length=200, blank=True)
    insurance_payer = models.CharField(max_length=200, blank=True)
    insurance_group_id = models.CharField(max_length=100, blank=True)
    insurance_member_id = models.CharField(max_length=100, blank=True)
    member_contract_accepted = models.BooleanField(null=True, blank=True)
    member_contract_accepted_at = models.DateTimeField(null=True, blank=True)
    hipaa_authorization_accepted = models.BooleanField(null=True, blank=True)
    hipaa_authorization_accepted_at = models.DateTimeField(null=True, blank=True)
    # link
    hint_patient_id = models.CharField("Hint patient id", max_length=100, blank=True)
    synced_to_hint = models.BooleanField("synced to Hint", default=False)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_batch_sync_id = models.CharField(max_length=40, blank=True)
    # What Hint is owed (stored with the change, sent by the worker): two-way fields whose value
    # here Hint has not confirmed (an event from Hint never overwrites them), and whether our
    # integration fields (a link made here) are still to be written.
    hint_owed_fields = models.JSONField(default=list, blank=True)
    hint_link_owed = models.BooleanField(default=False)
    hint_write_state = models.CharField(
        max_length=10, choices=HintWrite.choices, default=HintWrite.NONE, blank=True
    )
    hint_write_attempts = models.PositiveIntegerField(default=0)
    # When the worker's sweep may send it next (backoff), or until when a sender holds it.
    hint_write_next_at = models.DateTimeField(null=True, blank=True)
    # Plain words for the page: the last failure and what to do. Never a token or an id.
    hint_write_error = models.CharField(max_length=500, blank=True)
    # We wrote a refusal into the patient's `integration_error_message`: the next write clears it.
    hint_error_in_hint = models.BooleanField(default=False)
    # Normalized keys for the demographic match (kept by save(); see sync.matching).
    first_name_key = models.CharField(max_length=200, blank=True, editable=False)
    last_name_key = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "hint_patient_id"],
                condition=~models.Q(hint_patient_id=""),
                name="contact_unique_hint_patient",
            )
        ]
        indexes = [
            models.Index(
                fields=["practice", "last_name_key", "first_name_key", "dob"],
                name="contact_demographic",
            ),
            models.Index(fields=["practice", "first_name_key"], name="contact_first_key"),
            # The unique constraint's index is partial, which SQLite cannot use for `IN (…)`.
            # With the names after it, it also serves the list of unlinked contacts in order.
            models.Index(
                fields=["practice", "hint_patient_id", "last_name_key", "first_name_key"],
                name="contact_hint_patient_name",
            ),
            # The list filtered by sync state (`sync.contact_state`), in name order: a rare
            # state (waiting, error) is read from here, not found by walking every contact.
            models.Index(
                fields=["practice", "hint_write_state", "last_name_key", "first_name_key"],
                name="contact_state_name",
            ),
            # The worker's sweep of owed writes that are due.
            models.Index(
                fields=["hint_write_state", "hint_write_next_at"], name="contact_write_due"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def hint_status(self) -> str:
        """ "unlinked", "synced" (Hint confirmed what we hold), "waiting" or "failed"."""
        if not self.hint_patient_id:
            return "unlinked"
        return self.hint_write_state or "synced"

    def refresh_keys(self) -> None:
        """Recompute the normalized match keys from the name fields."""
        from sync.matching import normalize_name

        self.first_name_key = normalize_name(self.first_name)
        self.last_name_key = normalize_name(self.last_name)
        # "Synced" only while Hint holds what we hold: linked and nothing owed.
        self.synced_to_hint = bool(self.hint_patient_id) and not self.hint_write_state

    def save(self, *args: object, **kwargs: object) -> None:
        # The keys and the "synced" flag derive from this row's own fields: an invariant.
        self.refresh_keys()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,  # type: ignore[misc]
                "first_name_key",
                "last_name_key",
                "synced_to_hint",
                "updated_at",
            }
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class SyncOptions(PracticeOwned):
    """A practice's sync settings (one row per practice)."""

    class LogLevel(models.TextChoices):
        DEBUG = "debug", "debug (everything)"
        ERROR = "error", "errors and exceptions only"

    create_contacts_for_new_patients = models.BooleanField(default=False)
    create_contacts_when_batch_unmatched = models.BooleanField(default=False)
    log_level = models.CharField(max_length=10, choices=LogLevel.choices, default=LogLevel.ERROR)
    log_retention_days = models.PositiveIntegerField(default=90)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice"], name="sync_options_one_per_practice")
        ]

    def __str__(self) -> str:
        return f"Sync options of {self.practice_id}"


class Batch(PracticeOwned):
    """One batch sync run: its visible Batch Sync ID, status, counts and checkpoint."""

    class Kind(models.TextChoices):
        PATIENTS_TO_CONTACTS = "patients_to_contacts", "Hint patients to contacts"
        CONTACTS_TO_PATIENTS = "contacts_to_patients", "contacts (CSV) to Hint patients"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        ABORTING = "aborting", "aborting"
        ABORTED = "aborted", "aborted"
        DONE = "done", "finished"
        FAILED = "failed", "stopped by an error"
        PLANNED = "planned", "plan ready, nothing written"
        # Today's Hint budget is (nearly) spent: it resumes by itself when the budget renews.
        PAUSED = "paused", "paused until Hint's daily budget renews"

    class Phase(models.TextChoices):
        READING = "reading", "reading Hint's patients and bringing contacts in step"
        WRITING = "writing", "writing to Hint"
        PLANNING = "planning", "reading and deciding (nothing is written)"

    class Mode(models.TextChoices):
        """RUN decides and writes as it goes; PLAN decides first without writing (a preview),
        then, once applied, carries out exactly the rows it planned (`sync.plans`)."""

        RUN = "run", "batch"
        PLAN = "plan", "plan"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.ABORTING, Status.PAUSED)
    # Keys of `counts` that are not row outcomes: writes Hint took, and writes still owed to it.
    WRITES_SENT = "hint_writes_sent"
    WRITES_OWED = "hint_writes_owed"

    sync_id = models.CharField("Batch Sync ID", max_length=40, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.RUN)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    started_by = models.CharField(max_length=200, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # outcome -> number of rows (+ the two write keys)
    # The patients batch runs in two passes; which one is running (blank: not started yet).
    phase = models.CharField(max_length=20, choices=Phase.choices, blank=True)
    # Where a resumed run starts: the Hint list offset (patients) or the last row position (CSV).
    checkpoint = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    # CSV input: the file name and the trailing report lines that were ignored.
    source_name = models.CharField(max_length=255, blank=True)
    ignored_lines = models.JSONField(default=list)
    # A plan: when its reading finished (it expires SYNC_PLAN_TTL_HOURS later), the "create a
    # contact when no match" option it was decided with, its counts, and when it was applied.
    planned_at = models.DateTimeField(null=True, blank=True)
    plan_create = models.BooleanField(default=False)
    plan_counts = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "-created_at"], name="batch_recent")]

    def __str__(self) -> str:
        return self.sync_id

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_plan(self) -> bool:
        return self.mode == self.Mode.PLAN

    @property
    def is_planning(self) -> bool:
        """A plan still being decided (or waiting to be applied): nothing written yet."""
        return self.is_plan and self.applied_at is None

    @property
    def percent(self) -> int:
        """Rows done (contacts in step) of all rows; the writes to Hint have their own bar."""
        if not self.total:
            return 100 if self.status in (self.Status.DONE, self.Status.PLANNED) else 0
        return min(100, 100 * self.processed // self.total)

    @property
    def writes_sent(self) -> int:
        return int((self.counts or {}).get(self.WRITES_SENT, 0))

    @property
    def writes_owed(self) -> int:
        return int((self.counts or {}).get(self.WRITES_OWED, 0))

    @property
    def writes_total(self) -> int:
        return self.writes_sent + self.writes_owed

    @property
    def writes_percent(self) -> int:
        """Never 100 while a write is still owed."""
        if not self.writes_total:
            return 0
        if self.writes_owed:
            return min(99, 100 * self.writes_sent // self.writes_total)
        return 100


class BatchRow(PracticeOwned):
    """One record a batch handled (or will handle): what happened to it and why."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "not processed yet"
        LINKED = "linked", "linked and merged"
        CREATED = "created", "contact created and linked"
        UPDATED = "updated", "already linked, updated"
        UNCHANGED = "unchanged", "already linked, nothing to change"
        SKIPPED_LINKED = "skipped_linked", "skipped: contact already linked"
        SKIPPED_PATIENT_LINKED = "skipped_patient_linked", "skipped: patient linked elsewhere"
        SKIPPED_MULTIPLE = "skipped_multiple", "skipped: several matches"
        NO_MATCH = "no_match", "no match"
        NOT_AN_ID = "not_an_id", "skipped: not a contact id"
        DUPLICATE = "duplicate", "skipped: id repeated in the file"
        UNKNOWN = "unknown", "skipped: not a contact of this practice"
        NOT_PLANNED = "not_planned", "skipped: not in the plan"
        ERROR = "error", "error"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    contact_ref = models.CharField(max_length=100, blank=True)
    patient_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=30, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)
    # The write still owed to Hint for this row (filled-in fields and our integration fields);
    # null once sent. Lets a resumed batch finish the writes a killed worker left.
    push_body = models.JSONField(null=True, blank=True)
    # When Hint took the row's write (null: none sent, or none needed).
    written_at = models.DateTimeField(null=True, blank=True)
    # A plan's row: the outcome it planned (blank: decided at upload, or not a plan), the field
    # changes it showed (`sync.merge.FieldChange`s that change a side), a fingerprint of what
    # the decision read, and whether applying found that changed and decided again.
    planned_outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)
    changes = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    redecided = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="batch_row_position")
        ]
        indexes = [
            models.Index(fields=["batch", "outcome"], name="batch_row_outcome"),
            # Applying a patients plan finds each page's rows by patient id.
            models.Index(fields=["batch", "patient_id"], name="batch_row_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position} {self.outcome}"


class SyncLog(PracticeOwned):
    """The sync log: debug, error and exception entries, kept for the retention period."""

    class Level(models.TextChoices):
        DEBUG = "debug", "debug"
        ERROR = "error", "error"
        EXCEPTION = "exception", "exception"

    level = models.CharField(max_length=10, choices=Level.choices)
    message = models.CharField(max_length=500)
    detail = models.TextField(blank=True)
    contact_id_ref = models.CharField(max_length=40, blank=True)
    patient_id = models.CharField(max_length=100, blank=True)
    batch_sync_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["practice", "level", "-created_at"], name="synclog_level")]

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


class BackfillRun(PracticeOwned):
    """One pull of the practice's patients from Hint into the mirror (full, or since the last)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting to start"
        RUNNING = "running", "running"
        DONE = "done", "finished"
        FAILED = "failed", "failed"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Pull only patients Hint updated after this (None: everything, the first run).
    since = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # Plain words for the page; never a token or a stack trace.
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["practice", "-created_at"], name="backfill_recent")]

    def __str__(self) -> str:
        return f"backfill {self.pk} ({self.status})"

    @property
    def is_full(self) -> bool:
        return self.since is None

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
