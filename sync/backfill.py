"""Backfill: pull a practice's patients from Hint into the mirror, so missed webhooks heal.

The first run pulls everything; later runs only what Hint updated after the last finished run
began (minus a small overlap for clock skew: a patient seen twice is applied once, the mirror
orders by Hint's `updated_at`). Progress is saved every page, so a page shows it and a killed
worker loses nothing but the page it was on.

Hint's API description does not name the `updated_at` filter, so it is verified, not trusted: a
row older than asked means Hint ignored it; the run then becomes a full pass (the rows already
applied change nothing) and the log says so once per practice.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from handshake.audit import Actor, audit_record
from handshake.hint_access import NotInstalled, practice_api
from hintpartner.hint import decode, errors, policy
from hintpartner.tasks import enqueue_on_commit
from sync import inbound, mirror
from sync.models import BackfillRun

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)
# A run that has not saved progress for this long was lost with its worker: a new one may start.
STALE_AFTER = timedelta(minutes=15)
PROGRESS_EVERY = 100
# Hint's API description does not name the `updated_at` filter: an answer holding a row this much
# older than asked means Hint ignored it (the slack absorbs Hint's rounding of times).
FILTER_SLACK = timedelta(seconds=1)
FILTER_IGNORED_KEY = "backfill:updated-at-filter-ignored:{}"


class FilterIgnored(Exception):
    """Hint answered an incremental pull with a row older than asked."""


def backfill_latest(*, practice: Any) -> BackfillRun | None:
    """The practice's most recent run, if any."""
    return BackfillRun.objects.for_practice(practice).order_by("-created_at", "-pk").first()


def backfill_start(*, practice: Any, actor: Actor) -> BackfillRun:
    """Queue a backfill for the practice, or return the one already queued or running."""
    with transaction.atomic():
        audit_record(
            practice=getattr(practice, "pk", practice),
            actor=actor,
            action="backfill.requested",
            target_type="backfill",
        )
        runs = BackfillRun.objects.for_practice(practice)
        fresh = timezone.now() - STALE_AFTER
        active = (
            runs.filter(status__in=[BackfillRun.Status.QUEUED, BackfillRun.Status.RUNNING])
            .filter(updated_at__gte=fresh)
            .first()
        )
        if active is not None:
            return active
        last_done = runs.filter(status=BackfillRun.Status.DONE).order_by("-started_at").first()
        since = last_done.started_at - OVERLAP if last_done and last_done.started_at else None
        run = BackfillRun.objects.create(
            practice=practice, since=since, requested_by=actor.label[:200]
        )
        # backfill_tasks imports this module (its task calls backfill_run): imported at call time.
        from sync.backfill_tasks import backfill_process

        enqueue_on_commit(backfill_process, run.pk)
    return run


def backfill_ensure_first(*, practice: Any) -> BackfillRun | None:
    """Queue the first full backfill of a connected practice that never had one."""
    if not practice.is_connected or BackfillRun.objects.for_practice(practice).exists():
        return None
    return backfill_start(practice=practice, actor=Actor.background("first connection"))


def _finish(run: BackfillRun, status: str, error: str = "") -> BackfillRun:
    run.status = status
    run.error = error[:500]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "fetched", "changed", "updated_at"])
    return run


def backfill_run(*, run: BackfillRun) -> BackfillRun:
    """Pull the run's patients page by page and apply each to the mirror."""
    if run.status in (BackfillRun.Status.DONE, BackfillRun.Status.FAILED):
        return run
    practice = run.practice
    try:
        hint = practice_api(practice)  # a refused token marks the practice disconnected
    except NotInstalled:
        return _finish(run, BackfillRun.Status.FAILED, "The practice is not connected to Hint.")
    run.status = BackfillRun.Status.RUNNING
    run.started_at = timezone.now()
    run.fetched = run.changed = 0
    run.save(update_fields=["status", "started_at", "fetched", "changed", "updated_at"])
    try:
        try:
            _pull(run, practice, hint, since=run.since)
        except FilterIgnored:
            _filter_ignored_log(practice)
            # Everything Hint sent is applied already (a patient seen twice changes nothing):
            # start again from the first page without the filter, as a full run.
            run.since = None
            run.fetched = run.changed = 0
            run.save(update_fields=["since", "fetched", "changed", "updated_at"])
            _pull(run, practice, hint, since=None)
    except errors.HintError as exc:
        logger.warning("backfill %s stopped: %s", run.pk, type(exc).__name__)
        sentence = policy.error_sentence(exc, practice_token=True)
        return _finish(
            run, BackfillRun.Status.FAILED, f"{sentence} Patients pulled so far are kept."
        )
    return _finish(run, BackfillRun.Status.DONE)


def _pull(run: BackfillRun, practice: Any, hint: Any, *, since: datetime | None) -> None:
    """Apply every patient Hint lists (updated after `since`); raise FilterIgnored as soon as
    a row shows Hint did not honour the filter."""
    oldest = since - FILTER_SLACK if since is not None else None
    for data in hint.patients_iter(updated_after=since):
        if oldest is not None and _older_than(data, oldest):
            raise FilterIgnored
        run.fetched += 1
        if _apply(practice, data):
            run.changed += 1
        if run.fetched % PROGRESS_EVERY == 0:
            run.save(update_fields=["fetched", "changed", "updated_at"])


def _older_than(data: Any, when: datetime) -> bool:
    updated = (
        decode.parse_time(str(data.get("updated_at") or "")) if isinstance(data, dict) else None
    )
    return updated is not None and updated < when


def _filter_ignored_log(practice: Any) -> None:
    """Say once per practice (per cache) that Hint ignored the filter: every pull reads all."""
    if cache.add(FILTER_IGNORED_KEY.format(practice.pk), True, timeout=None):
        logger.warning(
            "backfill: Hint ignored the updated_at filter for practice %s; "
            "pulling every patient instead",
            practice.pk,
        )


def _apply(practice: Any, data: Any) -> bool:
    """Apply one patient from the list; a malformed entry is skipped, not fatal."""
    try:
        with transaction.atomic():
            result = mirror.patient_apply(practice=practice, data=data, kind=mirror.UPSERT)
            if result.changed:
                inbound.patient_changed(patient=result.patient, created=result.created)
    except mirror.MirrorError:
        return False
    return result.changed
