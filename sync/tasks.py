"""Background work of the contact sync: tasks only load rows and call services."""

from django_tasks import task

from sync import batch_control, inbound
from sync.models import Contact


@task()
def batch_run_task(batch_id: int) -> None:
    """Run or resume one batch from its checkpoint."""
    batch_control.batch_run(batch_id=batch_id)


@task()
def patient_link_push_task(contact_id: int, fields: list[str]) -> None:
    """After a link made from Hint's side, write filled-in fields and our integration fields."""
    from handshake.services import NotInstalled, practice_token

    contact = Contact.objects.filter(pk=contact_id).select_related("practice").first()
    if contact is None or not contact.hint_patient_id:
        return
    try:
        token = practice_token(contact.practice)
    except NotInstalled:
        return
    inbound.patient_link_push(contact=contact, fields=fields, token=token)
