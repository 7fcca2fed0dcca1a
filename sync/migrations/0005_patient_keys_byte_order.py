"""Byte-order ("C") collation for the patient mirror's search keys on PostgreSQL.

The keys are normalized to lowercase letters and digits, so byte order is the natural order, and
it makes `LIKE 'abc%'` a range on the name index: the name-order walk for "Y" starts at "y"
instead of reading every name before it (55 ms → under 1 ms at 100,000 patients). SQLite already
compares bytes; nothing to do there.
"""

from django.db import migrations

KEYS = {"last_name_key": 200, "first_name_key": 200, "email_key": 320}


def _alter(apps, schema_editor, collation: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name("sync_patient")
    for column, length in KEYS.items():
        name = schema_editor.quote_name(column)
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {name} TYPE varchar({length}) COLLATE {collation}"
        )


def forwards(apps, schema_editor) -> None:
    _alter(apps, schema_editor, '"C"')


def backwards(apps, schema_editor) -> None:
    _alter(apps, schema_editor, '"default"')


class Migration(migrations.Migration):
    dependencies = [("sync", "0004_contact_hint_patient_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
