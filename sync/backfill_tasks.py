"""Background work for backfill (apart from sync/tasks.py, which the contact sync owns)."""

from django_tasks import task

from sync import backfill
from sync.models import BackfillRun


@task()
def backfill_process(run_pk: int) -> str:
    """Run one queued backfill."""
    run = BackfillRun.objects.filter(pk=run_pk).select_related("practice").first()
    if run is None:
        return "missing"
    return backfill.backfill_run(run=run).status
