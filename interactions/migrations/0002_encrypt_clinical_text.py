"""Clinical text (a note's title and body, Hint's copy of the title, addenda) encrypted at rest.

The columns become `EncryptedTextField`s (the title loses its varchar(300): ciphertext is longer
than the text; the 300-character limit stays in the editor and the services), then every
existing row is encrypted in place. The reverse decrypts every row, then restores the old types.

Raw SQL on purpose, in batches by primary key: the fields would try to decrypt plain rows on
read. Needs FIELD_ENCRYPTION_KEYS (the same keys the app runs with).
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations

import hintpartner.crypto
from hintpartner.crypto import PREFIX, decrypt, encrypt

BATCH = 200

# model name -> its clinical text fields
FIELDS = {"Note": ("title", "body", "hint_title"), "Addendum": ("body",)}


def _is_encrypted(value: str) -> bool:
    if not value.startswith(PREFIX):
        return False
    try:
        decrypt(value)
    except ValueError:
        return False  # plain text that happens to start with the prefix
    return True


def _to_cipher(value: str) -> str | None:
    return None if _is_encrypted(value) else encrypt(value)


def _to_plain(value: str) -> str | None:
    # A value that does not decrypt (a key gone) stops the migration: never leave it half done.
    return decrypt(value) if value.startswith(PREFIX) else None


def _rewrite(apps: Any, schema_editor: Any, change: Callable[[str], str | None]) -> None:
    connection = schema_editor.connection
    q = connection.ops.quote_name
    for model_name, field_names in FIELDS.items():
        meta = apps.get_model("interactions", model_name)._meta
        table, pk = q(meta.db_table), q(meta.pk.column)
        columns = [meta.get_field(name).column for name in field_names]
        select = (
            f"SELECT {pk}, {', '.join(q(c) for c in columns)} FROM {table} "  # noqa: S608
            f"WHERE {pk} > %s ORDER BY {pk} LIMIT {BATCH}"
        )
        last = 0
        with connection.cursor() as cursor:
            while True:
                cursor.execute(select, [last])
                rows = cursor.fetchall()
                if not rows:
                    break
                for pk_value, *values in rows:
                    last = pk_value
                    updates = {}
                    for column, value in zip(columns, values, strict=True):
                        new = change(value) if value else None
                        if new is not None:
                            updates[column] = new
                    if updates:
                        sets = ", ".join(f"{q(c)} = %s" for c in updates)
                        cursor.execute(
                            f"UPDATE {table} SET {sets} WHERE {pk} = %s",  # noqa: S608
                            [*updates.values(), pk_value],
                        )


def encrypt_rows(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, schema_editor, _to_cipher)


def decrypt_rows(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, schema_editor, _to_plain)


class Migration(migrations.Migration):
    dependencies = [
        ("interactions", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="addendum",
            name="body",
            field=hintpartner.crypto.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name="note",
            name="body",
            field=hintpartner.crypto.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="note",
            name="hint_title",
            field=hintpartner.crypto.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="note",
            name="title",
            field=hintpartner.crypto.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
