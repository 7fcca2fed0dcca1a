"""Re-encrypt every encrypted column under the first key of FIELD_ENCRYPTION_KEYS."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from hintpartner.crypto import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt all stored tokens under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        q = connection.ops.quote_name
        for model in apps.get_models():
            columns = [
                f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
            ]
            if not columns:
                continue
            table, pk = q(model._meta.db_table), q(model._meta.pk.column)
            # Raw SQL on purpose: the ORM would decrypt on read, and rotation works on ciphertext.
            select = f"SELECT {pk}, {', '.join(q(c) for c in columns)} FROM {table}"  # noqa: S608
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(select)
                rows = cursor.fetchall()
                for pk_value, *values in rows:
                    updates = {c: rotate(v) for c, v in zip(columns, values, strict=True) if v}
                    if not updates:
                        continue
                    sets = ", ".join(f"{q(c)} = %s" for c in updates)
                    cursor.execute(
                        f"UPDATE {table} SET {sets} WHERE {pk} = %s",  # noqa: S608
                        [*updates.values(), pk_value],
                    )
                    total += 1
            self.stdout.write(f"{model._meta.label}: {len(rows)} rows checked")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} rows under the first key."))
