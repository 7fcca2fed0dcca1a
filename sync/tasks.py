"""Background work of the contact sync: tasks only load rows and call services."""

from django.db import transaction
from django_tasks import task

from sync import batch_control, contact_writes
from sync.models import Contact


@task()
def batch_run_task(batch_id: int) -> None:
    """Run or resume one batch from its checkpoint."""
    batch_control.batch_run(batch_id=batch_id)


@task()
def contact_write_task(*, contact_id: int, practice_id: int) -> str:
    """Send what one contact owes Hint (practice token); a failure waits for the next sweep."""
    contact = Contact.objects.for_practice(practice_id).filter(pk=contact_id).first()
    if contact is None:
        return "gone"
    return contact_writes.contact_write_send(contact=contact)


@task()
def patient_link_push_task(contact_id: int, fields: list[str]) -> None:
    """Tasks queued before writes were owed on the contact: owe the link's write there."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None or not contact.hint_patient_id:
            return
        contact_writes.contact_write_owe(contact, fields=fields, link=True)
        contact.save()
