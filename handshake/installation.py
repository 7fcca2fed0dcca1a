"""Installation: exchange Hint's one-time code for the practice token; activate; disconnect.

Hint is called before any row is written, and rows are written in one transaction, so a failed
exchange or Hint being down leaves the practice exactly as it was. Codes and tokens are never
logged or shown.
"""

import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from handshake.audit import Actor, audit_record
from handshake.context import HintContext
from handshake.models import Practice
from hintpartner.hint import api, errors

logger = logging.getLogger("hintpartner.handshake")

_CODE_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,512}$")
_STATUSES = {choice.value for choice in Practice.InstallationStatus}


class InstallationFailed(Exception):
    """The installation step did not happen; nothing was changed. Message safe to show."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _failure(exc: errors.HintError, *, doing: str) -> InstallationFailed:
    if isinstance(exc, errors.HintBadRequest | errors.HintNotFound):
        return InstallationFailed(
            f"Hint did not accept the {doing}: the code may have been used already, have expired "
            "or be mistyped. Nothing was changed. If the settings page shows the app as active, "
            "nothing more is needed; otherwise start the installation again from Hint's "
            "marketplace.",
            status=400,
        )
    if isinstance(exc, errors.HintUnauthorized | errors.HintWrongKey):
        logger.error("Hint refused the partner key during %s; check HINT_API_KEY", doing)
        return InstallationFailed(
            "Hint refused this app's partner key, so the installation could not be completed. "
            "Nothing was changed. The app's operator must check its configuration.",
            status=502,
        )
    logger.warning("Hint unavailable during %s: %s", doing, type(exc).__name__)
    return InstallationFailed(
        "Hint could not be reached, so nothing was changed. Try again in a few minutes.",
        status=503,
    )


def _actor(hint: HintContext | None) -> Actor:
    """The admin who changed the installation here, or Hint's own call or event."""
    return Actor.from_hint(hint) if hint is not None else Actor.background("Hint installation")


def installation_connect(*, code: str, hint: HintContext | None = None) -> Practice:
    """Exchange a one-time install code and store the installation; idempotent."""
    code = (code or "").strip()
    if not _CODE_RE.match(code):
        raise InstallationFailed("That is not an installation code from Hint.", status=400)
    try:
        installation = api.installation_connect(code=code)
    except errors.HintError as exc:
        raise _failure(exc, doing="installation code") from exc
    if (
        settings.HINT_PRODUCT_ID
        and installation.product_id
        and installation.product_id != settings.HINT_PRODUCT_ID
    ):
        raise InstallationFailed(
            "This code installs a different product, not this app. Nothing was changed.",
            status=400,
        )
    if hint is not None and installation.practice_id != hint.practice.hint_id:
        raise InstallationFailed(
            "This code belongs to another practice. Nothing was changed.", status=400
        )
    return _installation_store(
        installation=installation, hint=hint, action="installation.connected"
    )


def _installation_store(
    *, installation: api.Installation, hint: HintContext | None, action: str
) -> Practice:
    status = installation.status if installation.status in _STATUSES else "pending"
    with transaction.atomic():
        practice, _ = Practice.objects.select_for_update().get_or_create(
            hint_id=installation.practice_id, defaults={"name": installation.practice_name}
        )
        changes: dict[str, str] = {}
        wanted = {
            "installation_id": installation.id or practice.installation_id,
            "installation_status": status,
            "product_id": installation.product_id or practice.product_id,
        }
        if installation.practice_name:
            wanted["name"] = installation.practice_name
        if installation.token:
            wanted["token"] = installation.token
        for field, value in wanted.items():
            if getattr(practice, field) != value:
                changes[field] = value
        if not changes:
            return practice  # the same answer again: nothing to write
        was_connected = practice.is_connected
        for field, value in changes.items():
            setattr(practice, field, value)
        if {"installation_id", "installation_status"} & changes.keys():
            practice.installation_changed_at = timezone.now()
        practice.save()
        audit_record(
            practice=practice,
            actor=_actor(hint),
            action=action,
            detail=f"status {status}",
        )
        if practice.is_connected and not was_connected:
            _connected_hooks_schedule(practice)
    return practice


def installation_activate(*, practice: Practice, hint: HintContext | None = None) -> Practice:
    """Activate a pending installation (partner-activated products)."""
    if not practice.installation_id:
        raise InstallationFailed(
            "There is no installation to activate yet: install the app from Hint first.",
            status=400,
        )
    try:
        installation = api.installation_activate(installation_id=practice.installation_id)
    except errors.HintError as exc:
        raise _failure(exc, doing="activation") from exc
    if installation.practice_id != practice.hint_id:
        raise InstallationFailed(
            "Hint answered for another practice; nothing was changed.", status=502
        )
    return _installation_store(
        installation=installation, hint=hint, action="installation.activated"
    )


def installation_disconnect(*, practice: Practice, hint: HintContext | None = None) -> Practice:
    """Uninstall through Hint (deactivate). The practice's data here is kept."""
    if practice.installation_id:
        try:
            api.installation_deactivate(installation_id=practice.installation_id)
        except errors.HintNotFound:
            pass  # already gone at Hint: record it here too
        except errors.HintError as exc:
            raise _failure(exc, doing="disconnection") from exc
    return practice_installation_event(practice=practice, status="deactivated", hint=hint)


def practice_installation_event(
    *, practice: Practice, status: str, hint: HintContext | None = None
) -> Practice:
    """Record an installation status change (our own call, or integration.* webhooks)."""
    status = status if status in _STATUSES else "pending"
    with transaction.atomic():
        row = Practice.objects.select_for_update().get(pk=practice.pk)
        was_connected = row.is_connected
        if row.installation_status != status:
            row.installation_status = status
            row.installation_changed_at = timezone.now()
            row.save(update_fields=["installation_status", "installation_changed_at", "updated_at"])
            audit_record(
                practice=row,
                actor=_actor(hint),
                action=f"installation.{status}",
            )
            if row.is_connected and not was_connected:
                _connected_hooks_schedule(row)
    practice.installation_status = row.installation_status
    practice.installation_changed_at = row.installation_changed_at
    return row


def _connected_hooks_schedule(practice: Practice) -> None:
    """After commit, tell the apps above us (settings.HINT_PRACTICE_CONNECTED_HOOKS)."""

    def run() -> None:
        for path in settings.HINT_PRACTICE_CONNECTED_HOOKS:
            try:
                import_string(path)(practice=practice)
            except Exception:
                # The installation stands; a hook's own work (e.g. a first pull) can be redone.
                logger.exception("practice-connected hook %s failed", path)

    transaction.on_commit(run)
