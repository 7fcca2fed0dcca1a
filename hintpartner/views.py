"""Health endpoints for load balancers and humans, and the app's own error pages."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import (
    HttpRequest,
    JsonResponse,
)
from django.utils import timezone
from django.views.decorators.http import require_GET

from hintpartner.models import WorkerHeartbeat
from hintpartner.routes import route_access


@route_access("public")
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive."""
    return JsonResponse({"status": "ok"})


@route_access("public")
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database reachable, migrations applied, a worker seen recently."""
    checks: dict[str, object] = {}
    ready = True
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else f"{len(pending)} not applied"
        ready &= not pending
        beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    except DatabaseError:
        checks["database"] = "unreachable"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    if beat is None:
        checks["worker"] = "never seen"
        ready = False
    else:
        age = (timezone.now() - beat.seen_at).total_seconds()
        checks["worker_heartbeat_age_seconds"] = round(age, 1)
        if age > settings.WORKER_HEARTBEAT_STALE_SECONDS:
            checks["worker"] = "stale"
            ready = False
        else:
            checks["worker"] = "ok"
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
