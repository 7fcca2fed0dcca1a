"""Background pushes of notes to Hint, with the practice token (no session is open)."""

from django_tasks import task

from interactions import push
from interactions.models import Note


@task()
def note_push_task(*, note_id: int, practice_id: int) -> str:
    """Push one note to Hint; a failure schedules the next try with backoff."""
    note = Note.objects.for_practice(practice_id).filter(pk=note_id).first()
    if note is None:
        return "gone"
    if not note.needs_push and note.sync_state == Note.SyncState.SYNCED:
        return "synced"
    if note.sync_state == Note.SyncState.ERROR:
        return "error"  # a permanent failure waits for a person (services.note_retry)
    return push.note_push(note=note).sync_state
