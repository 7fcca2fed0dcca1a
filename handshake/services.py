"""Handshakes, embed sessions and practice tokens.

Installation (code exchange, activation, disconnection) lives in `handshake.installation`; the
pieces other apps call are re-exported here.
"""

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from handshake import cors
from handshake.audit import Actor, audit_record
from handshake.context import HintContext
from handshake.installation import (
    InstallationFailed,
    installation_activate,
    installation_connect,
    installation_disconnect,
    practice_installation_event,
)
from handshake.models import AuditEntry, HandshakeSeen, HintSession, Practice, PracticeUser
from handshake.roles import clean_roles, permissions_for_roles, permissions_for_support
from handshake.session_writes import session_write, session_write_one_statement
from hintpartner.hint import decode, signing
from hintpartner.tasks import Throttle

logger = logging.getLogger("hintpartner.handshake")

STANDARD = "standard"
# Sessions are touched at most this often, so reading pages does not write on every request.
TOUCH_EVERY_SECONDS = 60


class HandshakeRejected(Exception):
    """A handshake we refuse; `status` is the HTTP status to answer, the message is safe to show."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotInstalled(Exception):
    """The practice has no active installation: no practice token for background work."""


class OpenedSession:
    """A session just opened: its key (shown once), and its row, read when first asked for (the
    handshake's answer needs only the key)."""

    def __init__(self, key: str, session: HintSession | None = None) -> None:
        self.key = key
        self._session = session

    @property
    def session(self) -> HintSession:
        if self._session is None:
            self._session = HintSession.objects.select_related("practice", "user").get(
                key_hash=key_hash(self.key)
            )
        return self._session

    def __repr__(self) -> str:  # never show the key
        return "<OpenedSession>"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _text(value: Any, limit: int) -> str:
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()[:limit]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def handshake_verify(*, body: bytes, signature: str | None) -> tuple[dict[str, Any], str]:
    """Check a handshake's signature, shape and freshness; return the payload and a replay digest.

    The digest is "" when the payload carries no timestamp (Hint's audit probe): there is then
    nothing to bound a replay window with, and Hint's contract says to accept it.
    """
    if not signing.verify(body, signature, settings.HINT_WEBHOOK_SECRET):
        logger.warning(
            "handshake signature refused: %s",
            signing.describe_mismatch(body, signature, settings.HINT_WEBHOOK_SECRET),
        )
        raise HandshakeRejected("The handshake signature is missing or wrong.", status=401)
    try:
        # NaN/Infinity, absurd nesting and lone surrogates are refused; NUL characters removed.
        payload = decode.json_body(body, what="handshake body")
    except decode.BodyRefused as exc:
        raise HandshakeRejected(f"The handshake body is not readable: {exc}", status=400) from exc
    if not isinstance(payload, dict):
        raise HandshakeRejected("The handshake body is not a JSON object.", status=400)
    if not _text(_object(payload.get("practice")).get("id"), 101):
        raise HandshakeRejected("The handshake names no practice (practice.id).", status=400)
    if not _text(_object(payload.get("user")).get("id"), 101):
        raise HandshakeRejected("The handshake names no user (user.id).", status=400)
    if payload.get("timestamp") in (None, ""):
        return payload, ""
    sent_at = decode.parse_time(payload["timestamp"])
    if sent_at is None:
        raise HandshakeRejected("The handshake timestamp is not a date and time.", status=400)
    skew = abs((timezone.now() - sent_at).total_seconds())
    if skew > settings.HINT_HANDSHAKE_MAX_AGE_SECONDS:
        raise HandshakeRejected(
            "The handshake is too old or dated in the future; open the app again from Hint.",
            status=401,
        )
    return payload, hashlib.sha256(body).hexdigest()


Answer = tuple[int, dict[str, Any]]


def handshake_answer(
    *, declared_length: str | None, read_body: Callable[[int], bytes], signature: str | None
) -> Answer:
    """(status, JSON answer) for one handshake POST; `read_body(n)` reads the body's n bytes.

    Shared by the Django view (`views.handshake`) and the lean WSGI route (`handshake.wsgi`), so
    both give the same answer to the same bytes: size limit, signature, JSON strictness,
    freshness, replay refusal, and the one-statement write (session, user, audit, token
    encrypted by the field).
    """
    limit = settings.HINT_HANDSHAKE_MAX_BYTES
    try:
        declared = int(declared_length or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return 413, {"error": "The handshake body is larger than 64 KB."}
    body = read_body(max(declared, 0))
    if len(body) > limit:
        return 413, {"error": "The handshake body is larger than 64 KB."}
    try:
        payload, digest = handshake_verify(body=body, signature=signature)
        opened = session_open(payload=payload, replay_digest=digest)
    except HandshakeRejected as exc:
        return exc.status, {"error": str(exc)}
    return 200, {"session_key": opened.key}


def answer_headers(origin: str) -> list[tuple[str, str]]:
    """The headers of a handshake's answer besides its content: never cached, varies by Origin,
    and readable by a browser only from an allowed origin (localhost mode, `handshake.cors`)."""
    headers = [("Cache-Control", "no-store"), ("Vary", "Origin")]
    if origin and cors.origin_allowed(origin):
        headers.append(("Access-Control-Allow-Origin", origin))
    return headers


def session_open(*, payload: dict[str, Any], replay_digest: str = "") -> OpenedSession:
    """Upsert the practice (and, for a standard session, its user) and open a new session.

    On PostgreSQL this is one prepared statement (`session_write_one_statement`): practice,
    replay digest, user, session and audit rows are written together or not at all. Expired
    sessions and replay rows are removed by the worker's sweep (`expired_sweep`), not here.
    """
    practice_data = _object(payload.get("practice"))
    user_data = _object(payload.get("user"))
    practice_id = _text(practice_data.get("id"), 101)
    user_id = _text(user_data.get("id"), 101)
    if not practice_id or len(practice_id) > 100 or not user_id or len(user_id) > 100:
        raise HandshakeRejected("The handshake needs practice.id and user.id.", status=400)
    access_context = _text(payload.get("access_context"), 50) or STANDARD
    patient = _object(payload.get("patient"))
    now = timezone.now()
    key = secrets.token_urlsafe(32)  # 256 bits
    user = None
    if access_context == STANDARD:
        user = {"hint_id": user_id, "last_visit_at": now, **_user_fields(user_data)}
    support_label = "" if user else _support_label(user_data)
    session = {
        "key_hash": key_hash(key),
        "access_context": access_context,
        "support_label": support_label,
        "access_token": _text(payload.get("access_token"), 4000),
        "patient_id": _text(patient.get("id"), 100),
        "patient_name": _patient_name(patient),
        "interaction_id": _text(_object(payload.get("interaction")).get("id"), 100),
        "last_seen_at": now,
        "expires_at": now + timedelta(seconds=settings.HINT_SESSION_MAX_SECONDS),
    }
    audit = {
        "actor_label": (PracticeUser.display_name_of(user) if user else support_label)[:300],
        "is_support": user is None,
        "action": "session.opened",
        "detail": access_context,
    }
    rows = {
        "practice": {"hint_id": practice_id, "name": _text(practice_data.get("name"), 300)},
        "user": user,
        "session": session,
        "audit": audit,
        "digest": replay_digest,
        "seen_until": now + timedelta(seconds=2 * settings.HINT_HANDSHAKE_MAX_AGE_SECONDS),
    }
    if connection.vendor == "postgresql":
        written = session_write_one_statement(**rows, now=now)
        opened = OpenedSession(key)  # its row is read if asked for
    else:
        stored = HintSession(**session)
        written = session_write(
            **rows
            | {
                "practice": Practice(**rows["practice"]),
                "user": PracticeUser(**user) if user else None,
                "session": stored,
                "audit": AuditEntry(**audit),
            }
        )
        opened = OpenedSession(key, stored)
    if not written:
        raise HandshakeRejected(
            "This handshake was already used; open the app again from Hint.", status=401
        )
    return opened


def _user_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "email": _text(data.get("email"), 320),
        "first_name": _text(data.get("first_name"), 200),
        "last_name": _text(data.get("last_name"), 200),
        "name": _text(data.get("name"), 300),
        "roles": clean_roles(data.get("partner_roles")),
    }


_expired_due = Throttle(lambda: settings.HINT_EXPIRED_SWEEP_SECONDS)


def expired_sweep() -> int:
    """Remove sessions past their absolute expiry and replay rows past their window (at most
    every HINT_EXPIRED_SWEEP_SECONDS in a process; `WORKER_DISPATCHERS`). Queues nothing: 0."""
    if not _expired_due.due():
        return 0
    now = timezone.now()
    HintSession.objects.filter(expires_at__lt=now).delete()
    HandshakeSeen.objects.filter(expires_at__lt=now).delete()
    return 0


def _support_label(user_data: dict[str, Any]) -> str:
    who = _text(user_data.get("name"), 200) or _text(user_data.get("email"), 200)
    # Hint names some support accounts "Hint Support": "Hint support (Hint Support)" says it twice.
    return f"Hint support ({who})" if who and who.casefold() != "hint support" else "Hint support"


def _patient_name(patient: dict[str, Any]) -> str:
    full = f"{_text(patient.get('first_name'), 140)} {_text(patient.get('last_name'), 140)}"
    return _text(patient.get("name"), 300) or full.strip()


def session_resolve(*, key: str) -> HintSession | None:
    """The live session for a raw key, or None when unknown or expired (idle or absolute)."""
    if not key or len(key) > 200:
        return None
    session = (
        HintSession.objects.select_related("practice", "user")
        .filter(key_hash=key_hash(key))
        .first()
    )
    now = timezone.now()
    if session is None or not session.is_valid_at(
        now, idle_seconds=settings.HINT_SESSION_IDLE_SECONDS
    ):
        return None
    if (now - session.last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS:
        HintSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def session_patient_set(*, session: HintSession, patient_id: str, patient_name: str = "") -> None:
    """The user moved to another patient in Hint's chart (SDK callback): follow them."""
    patient_id = patient_id.strip()[:100]
    if not patient_id or patient_id == session.patient_id:
        return
    session.patient_id = patient_id
    session.patient_name = patient_name.strip()[:300]
    session.interaction_id = ""
    session.save(update_fields=["patient_id", "patient_name", "interaction_id"])


def context_build(*, session: HintSession, key: str) -> HintContext:
    """The `request.hint` of a live session."""
    practice = session.practice
    user = session.user
    if user is None:
        permissions = permissions_for_support()
        label = session.support_label or "Hint support"
    else:
        permissions = permissions_for_roles(user.roles)
        label = user.display_name
    if session.access_token:
        token, token_source = session.access_token, "session"
    elif practice.is_connected:
        token, token_source = practice.token, "practice"
    else:
        token, token_source = "", ""
    return HintContext(
        practice=practice,
        user=user,
        is_support=user is None,
        permissions=permissions,
        session_key=key,
        token=token,
        token_source=token_source,
        patient_id=session.patient_id,
        patient_name=session.patient_name,
        interaction_id=session.interaction_id,
        access_context=session.access_context,
        actor_label=label,
        session=session,
    )


# --- practice token for background work -------------------------------------------------------


def practice_token(practice: Practice) -> str:
    """The practice's own token (webhooks, batches, retries); NotInstalled when there is none."""
    row = Practice.objects.connected().filter(pk=practice.pk).first()
    if row is None:
        raise NotInstalled(f"{practice} has no active installation of this app.")
    return row.token


def practice_mark_disconnected(*, practice: Practice) -> None:
    """Hint refused the practice token (401): forget it; pages then say how to reconnect."""
    with transaction.atomic():
        changed = (
            Practice.objects.filter(pk=practice.pk)
            .exclude(installation_status=Practice.InstallationStatus.DISCONNECTED)
            .update(
                installation_status=Practice.InstallationStatus.DISCONNECTED,
                token="",
                installation_changed_at=timezone.now(),
                updated_at=timezone.now(),
            )
        )
        if changed:
            audit_record(
                practice=practice,
                actor=Actor.background("Hint (token refused)"),
                action="installation.disconnected",
            )
    practice.installation_status = Practice.InstallationStatus.DISCONNECTED
    practice.token = ""


__all__ = [
    "HandshakeRejected",
    "InstallationFailed",
    "NotInstalled",
    "OpenedSession",
    "context_build",
    "expired_sweep",
    "handshake_verify",
    "installation_activate",
    "installation_connect",
    "installation_disconnect",
    "practice_installation_event",
    "practice_mark_disconnected",
    "practice_token",
    "session_open",
    "session_patient_set",
    "session_resolve",
]
