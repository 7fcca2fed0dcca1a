"""Writes to a Hint patient: our integration fields, the mapped fields, and Hint's answer.

Every PATCH that carries contact values to Hint is built here; Hint's answer goes into the
mirror, so a late webhook of an older state is ignored.
"""

import functools
import logging
from typing import Any

from django.conf import settings
from django.urls import reverse

from handshake.address_shape import practice_address_shape
from hintpartner.hint import api
from hintpartner.hint.paths import (
    INTEGRATION_ERROR_MESSAGE,
    INTEGRATION_RECORD_ID,
    INTEGRATION_WEB_LINK,
    PATIENT_ID,
)
from sync import fieldmap
from sync.mirror import MirrorError, patient_apply
from sync.models import Contact, Patient

logger = logging.getLogger(__name__)

_PK_MARK = 987654321


@functools.cache
def _contact_link_template() -> str:
    # reverse() once: batches build thousands of these links.
    return settings.APP_URL + reverse("sync:contact-detail", args=[_PK_MARK])


def contact_web_link(contact: Contact) -> str:
    """The deep link written into Hint (`integration_web_link`) to this contact's page."""
    return _contact_link_template().replace(str(_PK_MARK), str(contact.pk))


def integration_fields(contact: Contact) -> dict[str, str]:
    """Our contact id and the deep link back to it, as Hint's patient fields."""
    return {INTEGRATION_RECORD_ID: str(contact.pk), INTEGRATION_WEB_LINK: contact_web_link(contact)}


INTEGRATION_CLEARED = {INTEGRATION_RECORD_ID: "", INTEGRATION_WEB_LINK: ""}
# What unlinking (or deleting a linked contact) clears on the patient: all of ours.
UNLINK_CLEARED = {**INTEGRATION_CLEARED, INTEGRATION_ERROR_MESSAGE: ""}


def link_body(
    contact: Contact,
    values: fieldmap.Values,
    patient_data: dict[str, Any] | None,
    *,
    address_shape: str | None = None,
) -> dict[str, Any]:
    """The PATCH a new link owes Hint: filled-in two-way `values` and our integration fields.
    Batches pass the practice's `address_shape` (no practice read per contact)."""
    if address_shape is None:
        address_shape = practice_address_shape(contact.practice)
    body = fieldmap.patient_payload(values, patient=patient_data, address_shape=address_shape)
    body.update(integration_fields(contact))
    return body


def mirror_answer(practice: Any, data: Any) -> None:
    """Record Hint's answer in the mirror so a late webhook of an older state is ignored."""
    if not isinstance(data, dict) or not data.get(PATIENT_ID):
        return
    try:
        patient_apply(practice=practice, data=data)
    except MirrorError:  # pragma: no cover - Hint answered without an id
        logger.info("Hint's answer carried no patient id; mirror not updated")


def patient_known(contact: Contact) -> dict[str, Any] | None:
    """The mirror's state of the contact's linked patient (None when the mirror has none)."""
    mirror = (
        Patient.objects.for_practice(contact.practice_id)
        .filter(hint_id=contact.hint_patient_id)
        .first()
    )
    return mirror.data if mirror is not None else None


def patient_push(
    *,
    practice: Any,
    token: str,
    patient_id: str,
    values: fieldmap.Values,
    patient_data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """PATCH the two-way `values` (and `extra` fields) to a Hint patient; mirror the answer."""
    body = fieldmap.patient_payload(
        values, patient=patient_data, address_shape=practice_address_shape(practice)
    )
    body.update(extra or {})
    if not body:
        return patient_data or {}
    answer = api.patient_update(token=token, patient_id=patient_id, fields=body)
    mirror_answer(practice, answer)
    return answer if isinstance(answer, dict) else {}
