"""The sandbox's own data: practices, users, patients, installations, tokens, webhook events.

Everything here imitates Hint. Ids carry Hint-like prefixes but nothing should rely on them.
"""

import secrets
import string

from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 12) -> str:
    """A Hint-like opaque id: `pat-Xy12…` (letters and digits only)."""
    raw = secrets.token_hex(length)  # one system call, then base 62 for a Hint-like look
    number = int(raw, 16)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return prefix + "-" + "".join(chars)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Config(models.Model):
    """One row (pk=1): where the app is, fault injection and webhook switches."""

    app_url = models.CharField(max_length=300, default="http://127.0.0.1:8000")
    public_url = models.CharField(max_length=300, default="http://127.0.0.1:8001")
    localhost_mode = models.BooleanField(default=False)
    rate_limit_per_second = models.FloatField(default=100.0)
    fault_error_rate = models.FloatField(default=0.0)
    fault_latency_ms = models.PositiveIntegerField(default=0)
    fault_timeout_rate = models.FloatField(default=0.0)
    fault_late_success_rate = models.FloatField(default=0.0)
    # Longer than the app's read timeout (20 s by default): the client gives up, the write stays.
    fault_slow_seconds = models.FloatField(default=25.0)
    webhook_duplicates = models.BooleanField(default=False)
    webhook_out_of_order = models.BooleanField(default=False)
    webhook_on_api_writes = models.BooleanField(default=True)
    # Strict: a body field or query parameter Hint's API description does not name is answered
    # 422 naming it. Lenient (as Hint may be): unknown fields and filters are silently ignored.
    strict = models.BooleanField(default=True)
    # The most rows one list page holds (Hint's is 100; a lower cap tests the client's paging).
    page_cap = models.PositiveIntegerField(default=100)
    # Act as a Hint that ignores `updated_at`/`created_at` filters (the guide names them, the
    # description does not): every row comes back, the app must notice.
    ignore_time_filters = models.BooleanField(default=False)
    # The names patients' street lines get in answers, events and accepted bodies: Hint's API
    # description (`address_line1`) or the go-hint client's (`address_line_1`).
    address_shape = models.CharField(max_length=20, default="address_line1")

    def __str__(self) -> str:
        return "sandbox configuration"

    @classmethod
    def get(cls) -> "Config":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class Practice(models.Model):
    hint_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class User(models.Model):
    """A Hint user. Users here may open the app in every practice; roles are the partner's."""

    hint_id = models.CharField(max_length=100, unique=True)
    email = models.CharField(max_length=200)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    partner_roles = models.JSONField(default=list, blank=True)
    access_context = models.CharField(max_length=40, default="standard")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def label(self) -> str:
        if self.access_context != "standard":
            return f"{self.name} (Hint support)"
        roles = ", ".join(self.partner_roles) or "no role"
        return f"{self.name} ({roles})"


class Practitioner(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="practitioners")
    hint_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patients")
    hint_id = models.CharField(max_length=100, unique=True)
    title = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    suffix = models.CharField(max_length=20, blank=True)
    chosen_first_name = models.CharField(max_length=100, blank=True)
    dob = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=20, blank=True)
    gender_identity = models.CharField(max_length=60, blank=True)
    gender_other = models.CharField(max_length=200, blank=True)
    pronouns = models.CharField(max_length=60, blank=True)
    preferred_language = models.CharField(max_length=10, blank=True)
    email = models.CharField(max_length=200, blank=True)
    phones = models.JSONField(default=list, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    address_city = models.CharField(max_length=100, blank=True)
    address_state = models.CharField(max_length=40, blank=True)
    address_zip = models.CharField(max_length=20, blank=True)
    address_country = models.CharField(max_length=60, blank=True)
    practitioner = models.ForeignKey(Practitioner, null=True, blank=True, on_delete=models.SET_NULL)
    health_insurance_payer_name = models.CharField(max_length=200, blank=True)
    health_insurance_payer_id = models.CharField(max_length=60, blank=True)
    health_insurance_group_id = models.CharField(max_length=60, blank=True)
    health_insurance_member_id = models.CharField(max_length=60, blank=True)
    hipaa_authorization_accepted = models.BooleanField(default=False)
    hipaa_authorization_accepted_at = models.DateTimeField(null=True, blank=True)
    patient_agreement_accepted = models.BooleanField(default=False)
    patient_agreement_accepted_at = models.DateTimeField(null=True, blank=True)
    membership_status = models.CharField(max_length=20, default="active")
    archived = models.BooleanField(default=False)
    integration_record_id = models.CharField(max_length=200, blank=True, db_index=True)
    integration_web_link = models.CharField(max_length=500, blank=True)
    integration_error_message = models.TextField(blank=True)
    integration_sync_status = models.CharField(max_length=20, default="unsynced")
    integration_last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Lists walk this in order (rowid = id breaks ties) and counts read only it:
            # `archived` rides along because SQLite cannot seek on Django's `NOT archived`.
            models.Index(fields=["practice", "created_at", "archived"]),
            models.Index(fields=["practice", "updated_at", "archived"]),
            models.Index(fields=["practice", "last_name", "first_name"]),
            # Hint's string filters are case-insensitive: the list's name and email filters
            # compare LOWER(column), served by these (a search by name is no table scan).
            models.Index(
                F("practice"),
                Lower("last_name"),
                Lower("first_name"),
                name="sandbox_patient_name_ci",
            ),
            models.Index(F("practice"), Lower("first_name"), name="sandbox_patient_first_ci"),
            models.Index(F("practice"), Lower("email"), name="sandbox_patient_email_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


class Installation(models.Model):
    class Status(models.TextChoices):
        ONBOARDING = "onboarding"
        PENDING = "pending"
        ACTIVE = "active"
        DEACTIVATED = "deactivated"

    class Mode(models.TextChoices):
        INSTANT = "instant"
        PRACTICE_ACTIVATE = "practice_activate"
        PARTNER_ACTIVATE = "partner_activate"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="installations")
    hint_id = models.CharField(max_length=100, unique=True)
    mode = models.CharField(max_length=30, choices=Mode.choices, default=Mode.INSTANT)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ONBOARDING)
    code = models.CharField(max_length=100, unique=True)
    code_used_at = models.DateTimeField(null=True, blank=True)
    connect_result = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.hint_id} ({self.status})"


class ApiToken(models.Model):
    """A practice token (from an installation) or a session-scoped token (from a handshake)."""

    class Kind(models.TextChoices):
        PRACTICE = "practice"
        SESSION = "session"

    token = models.CharField(max_length=100, unique=True, default=new_token)
    key_id = models.CharField(max_length=100, default="")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="tokens")
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:  # never the token itself
        return f"{self.kind} token {self.key_id}"


class Interaction(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="interactions")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="interactions")
    hint_id = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=20)
    title = models.CharField(max_length=300, blank=True)
    partner_product_id = models.CharField(max_length=100, blank=True)
    integration_record_id = models.CharField(max_length=200, blank=True)
    integration_web_link = models.CharField(max_length=500, blank=True)
    integration_error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.title or self.hint_id


class PartnerAccount(models.Model):
    """One row (pk=1): the partner as Hint's partner API holds it (`/api/partner/partner`)."""

    name = models.CharField(max_length=200, default="Sandbox Partner")
    email = models.CharField(max_length=200, default="partner@example.com")
    auth_type = models.CharField(max_length=40, blank=True)
    redirect_url = models.CharField(max_length=500, blank=True)
    localhost_redirect_url = models.CharField(max_length=500, blank=True)
    localhost_webhook_url = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get(cls) -> "PartnerAccount":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class PartnerApp(models.Model):
    """One row (pk=1): the partner's app (`/api/partner/app`): where Hint posts handshakes."""

    name = models.CharField(max_length=200, default="hintpartner")
    handshake_url = models.CharField(max_length=500, blank=True)
    localhost_handshake_url = models.CharField(max_length=500, blank=True)
    role_mappings = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def get(cls) -> "PartnerApp":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class Anchor(models.Model):
    """Where a surface of the app is anchored in Hint: one per surface type."""

    hint_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=40, unique=True)
    source_url = models.CharField(max_length=500, blank=True)
    localhost_source_url = models.CharField(max_length=500, blank=True)
    settings_label = models.CharField(max_length=200, blank=True)
    interaction_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.type


class WebhookEndpoint(models.Model):
    hint_id = models.CharField(max_length=100, unique=True)
    webhook_url = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.webhook_url


class WebhookEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"
        SKIPPED = "skipped"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="events")
    hint_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=60)
    body = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.hint_id}"


class DeliveryAttempt(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    url = models.CharField(max_length=500)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
