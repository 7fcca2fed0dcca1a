"""`manage.py hint_doctor`: one run checks this deployment against the Hint it points at.

Each check says pass or fail and, when it fails, what to do. It covers what Hint's own audit
checks that can be checked from here (hint-platform, "Registering the app with Hint"): the
partner key, Hint's registration of the app, the surfaces, the handshake's refusals, the webhook
endpoint and a signed probe, the clock, and each connected practice's token and patient shape.
Nothing printed carries a token or a secret.
"""

import email.utils
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.utils import timezone

from handshake.address_shape import practice_address_shape, practice_address_shape_learn
from handshake.hint_access import PracticeApi
from handshake.models import Practice
from hintpartner.hint import api, errors, setup, signing
from hintpartner.hint.paths import PATIENT_FIELDS, SERVICE_STATUS, SERVICE_URL, SURFACES

# Our handshake refuses timestamps further off than HINT_HANDSHAKE_MAX_AGE_SECONDS; a clock this
# far from Hint's is worth fixing long before that.
CLOCK_SKEW_LIMIT_SECONDS = 30
PROBE_TIMEOUT_SECONDS = 10
# Hint's audit probe: no timestamp, an id with no known prefix (hint-platform, "Routes").
PROBE_PRACTICE_ID = "p-test"
# A webhook type no handler knows: answered 200 like any event, then dropped by the worker's
# sort (webhooks.inbox.received_sort), so doctor runs leave no rows.
PROBE_EVENT_TYPE = "hintpartner.doctor_probe"
SETUP_FIX = "Run `python manage.py hint_setup --apply` (or set it in Hint's partner portal)."


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _post(url: str, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[signing.SIGNATURE_HEADER] = signature
    return requests.post(url, data=body, headers=headers, timeout=PROBE_TIMEOUT_SECONDS)


def _reach(label: str, call: Callable[[], Check]) -> Check:
    try:
        return call()
    except requests.RequestException as exc:
        return Check(
            label,
            False,
            f"could not reach it: {type(exc).__name__}",
            "Is the app running at APP_URL (web process and, for webhooks, the tunnel)?",
        )


def checks() -> Iterator[Check]:
    """Every check, in order; later checks are skipped when the partner key fails."""
    want = setup.wanted()
    try:
        registration = setup.registration_read()
    except errors.HintError as exc:
        fix = (
            f"HINT_API_KEY is the partner API key of the partner portal that matches "
            f"HINT_API_URL ({settings.HINT_API_URL}); see README, 'Where each value is found'."
        )
        yield Check("Partner key", False, str(exc), fix)
        return
    name = str(registration.partner.get("name") or "")
    yield Check("Partner key", True, f"Hint accepted HINT_API_KEY (partner {name or '?'})")
    yield _listing(registration, want)
    yield _registration(registration, want)
    yield _clock(registration.date)
    for surface in SURFACES:
        yield _reach(f"Surface {surface}", lambda s=surface: _surface(s))
    yield _reach("Handshake refusals", _handshake_refusals)
    yield _reach("Handshake, signed minimal body", _handshake_minimal)
    yield _services()
    yield _webhook_registered(registration, want)
    yield _reach("Webhook receiver", lambda: _webhook_probe(want.webhook_url))
    practices = list(Practice.objects.connected().order_by("pk"))
    if not practices:
        yield Check("Connected practices", True, "none yet (install the app in a practice)")
    for practice in practices:
        yield _practice(practice)


def _listing(registration: setup.Registration, want: setup.Wanted) -> Check:
    problems = [f"no partner {f}" for f in ("name", "email") if not registration.partner.get(f)]
    if not want.localhost:
        urls = [*want.partner.values(), *want.app.values(), *want.anchors.values()]
        problems += [f"{u} is not https" for u in urls if u.startswith("http:")]
    if not registration.anchors:
        problems.append("no anchor")
    if problems:
        return Check(
            "Listing",
            False,
            "; ".join(problems),
            "Fill the partner's name and email in Hint's partner portal; serve APP_URL over https.",
        )
    mode = "localhost mode (http allowed)" if want.localhost else "https"
    return Check("Listing", True, f"partner name and email set, {mode}")


def _registration(registration: setup.Registration, want: setup.Wanted) -> Check:
    found = setup.differences(registration, want)
    if found:
        return Check(
            "Hint's view of the app", False, "; ".join(d.sentence() for d in found), SETUP_FIX
        )
    return Check("Hint's view of the app", True, "partner, app and the four anchors match")


def _clock(date_header: str, *, now: datetime | None = None) -> Check:
    if not date_header:
        return Check("Clock", True, "Hint sent no Date header: not checked")
    try:
        hint_now = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return Check("Clock", True, f"Hint's Date header is unreadable ({date_header[:40]!r})")
    if hint_now.tzinfo is None:
        hint_now = hint_now.replace(tzinfo=UTC)
    skew = ((now or timezone.now()) - hint_now).total_seconds()
    detail = f"this machine is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} Hint"
    if abs(skew) > CLOCK_SKEW_LIMIT_SECONDS:
        return Check(
            "Clock",
            False,
            detail,
            "Synchronise the clock (NTP): timestamped handshakes older than "
            f"{settings.HINT_HANDSHAKE_MAX_AGE_SECONDS} s are refused.",
        )
    return Check("Clock", True, detail)


def _surface(surface: str) -> Check:
    url = f"{settings.APP_URL}/hint/{surface}"
    status = requests.get(url, timeout=PROBE_TIMEOUT_SECONDS).status_code
    if status in (200, 401):
        return Check(f"Surface {surface}", True, f"{url} answers {status} without a session")
    return Check(
        f"Surface {surface}",
        False,
        f"{url} answers {status} (Hint wants 200 or 401)",
        "Check APP_URL and the app's logs.",
    )


def _handshake_url() -> str:
    return f"{settings.APP_URL}/hint/handshake"


def _handshake_refusals() -> Check:
    body = b"{}"
    unsigned = _post(_handshake_url(), body, None).status_code
    zeros = _post(_handshake_url(), body, "sha256=" + "0" * 64).status_code
    if unsigned == 401 and zeros == 401:
        return Check("Handshake refusals", True, "unsigned and all-zero signatures answer 401")
    return Check(
        "Handshake refusals",
        False,
        f"unsigned answers {unsigned}, all-zero signature answers {zeros} (Hint wants 401)",
        "Check that APP_URL reaches this app, not another service.",
    )


def _handshake_minimal() -> Check:
    payload = {
        "user": {"id": "user-hint-doctor", "email": "doctor@example.com"},
        "practice": {"id": PROBE_PRACTICE_ID, "name": "Hint audit probe"},
    }
    body = json.dumps(payload).encode()
    response = _post(_handshake_url(), body, signing.sign(body, settings.HINT_WEBHOOK_SECRET))
    try:
        has_key = bool(response.json().get("session_key"))
    except (ValueError, AttributeError):
        has_key = False
    if response.status_code == 200 and has_key:
        return Check("Handshake, signed minimal body", True, "answered 200 with a session key")
    return Check(
        "Handshake, signed minimal body",
        False,
        f"answered {response.status_code}{'' if has_key else ' without a session key'}",
        "HINT_WEBHOOK_SECRET must be the signing secret of Hint's product settings, the same "
        "in every process.",
    )


def _services() -> Check:
    """Hint-hosted deployments of the app, when Hint hosts it: each must be active."""
    try:
        services = api.app_services()
    except errors.HintError as exc:
        return Check("Hint-hosted services", False, str(exc), "Check the partner key's access.")
    idle = [
        f"{s.get(SERVICE_URL) or s.get('id') or '?'} is {s.get(SERVICE_STATUS) or 'without status'}"
        for s in services
        if s.get(SERVICE_STATUS) != "active"
    ]
    if idle:
        return Check(
            "Hint-hosted services",
            False,
            "; ".join(idle),
            "Start or redeploy the service in Hint's partner portal.",
        )
    if not services:
        return Check("Hint-hosted services", True, "none (the app is hosted by you)")
    return Check("Hint-hosted services", True, f"{len(services)} active")


def _webhook_registered(registration: setup.Registration, want: setup.Wanted) -> Check:
    if want.webhook_url in registration.webhook_urls:
        return Check("Webhook endpoint", True, f"{want.webhook_url} is registered with Hint")
    held = ", ".join(u for u in registration.webhook_urls if u) or "none"
    return Check(
        "Webhook endpoint",
        False,
        f"{want.webhook_url} is not registered (Hint has: {held})",
        SETUP_FIX,
    )


def _webhook_probe(url: str) -> Check:
    event = {
        "id": f"evt-doctor-{secrets.token_hex(8)}",
        "type": PROBE_EVENT_TYPE,
        "created_at": timezone.now().isoformat(),
        "object": {},
    }
    body = json.dumps(event).encode()
    status = _post(url, body, signing.sign(body, settings.HINT_WEBHOOK_SECRET)).status_code
    if status == 200:
        return Check("Webhook receiver", True, f"{url} answered a signed probe with 200")
    fix = "Start the tunnel and point HINT_WEBHOOK_URL at it." if status >= 500 else ""
    if status == 401:
        fix = "HINT_WEBHOOK_SECRET differs between this command and the web process."
    return Check(
        "Webhook receiver",
        False,
        f"{url} answered {status}",
        fix or "Check the app's logs.",
    )


def _practice(practice: Practice) -> Check:
    label = f"Practice {practice.name or practice.hint_id} ({practice.hint_id})"
    before = practice_address_shape(practice)
    try:
        items, _ = PracticeApi(practice).patients_page(offset=0, limit=1)
    except errors.HintError as exc:
        return Check(
            label,
            False,
            f"its token failed: {exc}",
            "Reinstall the app in the practice (Hint's marketplace), or reconnect from Settings.",
        )
    if not items:
        return Check(label, True, "token works; the practice has no patient to show shapes")
    patient = items[0]
    seen = practice_address_shape_learn(practice=practice, patient=patient)
    sex = [n for n in (PATIENT_FIELDS["sex"], PATIENT_FIELDS["gender_deprecated"]) if n in patient]
    phones = patient.get(PATIENT_FIELDS["phones"])
    shapes = (
        f"street lines {seen or 'absent'}, {'/'.join(sex) or 'no sex or gender'}, "
        f"phones {'array' if isinstance(phones, list) else type(phones).__name__}"
    )
    if seen and seen != before:
        return Check(
            label,
            False,
            f"token works; Hint returns {shapes}, but addresses were written as {before}",
            f"Now writing {seen} for this practice (remembered). Addresses sent before may be "
            "blank in Hint: run a batch from Settings to send them again.",
        )
    return Check(label, True, f"token works; Hint returns {shapes}")
