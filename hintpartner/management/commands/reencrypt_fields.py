"""Re-encrypt every encrypted column under the first key of FIELD_ENCRYPTION_KEYS."""

from typing import Any

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from hintpartner.crypto import PREFIX, EncryptedTextField, rotate

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt stored secrets and clinical text under the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = unreadable = 0
        for model in apps.get_models():
            columns = [
                f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
            ]
            if not columns:
                continue
            checked, done, bad = self._table(model._meta.db_table, model._meta.pk.column, columns)
            rotated, unreadable = rotated + done, unreadable + bad
            self.stdout.write(f"{model._meta.label}: {checked} rows checked, {done} re-encrypted")
        if unreadable:
            # Which rows, never what they hold: the value may be a secret or clinical text.
            raise CommandError(
                f"{unreadable} values could not be read with any key of FIELD_ENCRYPTION_KEYS "
                "(a key missing from the list, or a value stored unencrypted); they were left "
                "as they are. Add the old key and run this again."
            )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} rows under the first key."))

    def _table(self, db_table: str, pk_column: str, columns: list[str]) -> tuple[int, int, int]:
        """Walk the table by primary key, BATCH rows per transaction (memory stays flat)."""
        q = connection.ops.quote_name
        table, pk = q(db_table), q(pk_column)
        # Raw SQL on purpose: the ORM would decrypt on read, and rotation works on ciphertext.
        select = f"SELECT {pk}, {', '.join(q(c) for c in columns)} FROM {table} "  # noqa: S608
        select += f"WHERE {pk} > %s ORDER BY {pk} LIMIT {BATCH}"
        checked = rotated = unreadable = 0
        last: Any = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                if last is None:
                    cursor.execute(select.replace(f"WHERE {pk} > %s ", ""))
                else:
                    cursor.execute(select, [last])
                rows = cursor.fetchall()
                for pk_value, *values in rows:
                    updates = {}
                    for column, value in zip(columns, values, strict=True):
                        if not value:
                            continue
                        try:
                            if not value.startswith(PREFIX):
                                raise InvalidToken
                            updates[column] = rotate(value)
                        except InvalidToken:
                            unreadable += 1
                            self.stderr.write(f"{db_table} {pk_value}: {column} is unreadable")
                    if updates:
                        sets = ", ".join(f"{q(c)} = %s" for c in updates)
                        cursor.execute(
                            f"UPDATE {table} SET {sets} WHERE {pk} = %s",  # noqa: S608
                            [*updates.values(), pk_value],
                        )
                        rotated += 1
            checked += len(rows)
            if len(rows) < BATCH:
                return checked, rotated, unreadable
            last = rows[-1][0]
