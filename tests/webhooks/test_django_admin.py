"""Django admin lists the inbox, unrouted events included (staff login only)."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.webhooks.conftest import deliver_and_dispatch, patient_event

pytestmark = pytest.mark.django_db


def test_django_admin_lists_stored_and_unrouted_events(client: Client, db: None) -> None:
    deliver_and_dispatch(
        client, patient_event(practice_id="pra-unknown", event_id="evt-unrouted-1")
    )
    User.objects.create_superuser("root", "root@example.test", "pw-for-tests")
    client.login(username="root", password="pw-for-tests")
    unrouted = client.get("/admin/webhooks/unroutedwebhookevent/")
    assert unrouted.status_code == 200
    assert b"pra-unknown" in unrouted.content
    assert client.get("/admin/webhooks/webhookevent/").status_code == 200


def test_django_admin_needs_a_staff_login(client: Client) -> None:
    assert client.get("/admin/webhooks/webhookevent/").status_code == 302
