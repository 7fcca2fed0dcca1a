from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hintpartner.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_alive(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_unavailable_until_a_worker_has_been_seen(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "never seen"
    assert response.json()["checks"]["migrations"] == "ok"


def test_readyz_is_ready_with_a_fresh_heartbeat(client: Client) -> None:
    WorkerHeartbeat.objects.create(worker="w1", seen_at=timezone.now())
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == "ok"


def test_readyz_reports_a_stale_worker(client: Client) -> None:
    WorkerHeartbeat.objects.create(worker="w1", seen_at=timezone.now() - timedelta(hours=1))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "stale"
    assert response.json()["checks"]["worker_heartbeat_age_seconds"] > 3000


def test_health_answers_405_to_a_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
