"""A task for the backend tests; stores its result where the test can see it."""

from django_tasks import task

from hintpartner.models import WorkerHeartbeat


@task()
def record(name: str) -> str:
    """Write a row the test can look for, proving the worker really ran the task."""
    from django.utils import timezone

    WorkerHeartbeat.objects.create(worker=f"task:{name}", seen_at=timezone.now())
    return name
