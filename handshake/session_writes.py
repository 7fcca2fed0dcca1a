"""Writing a new session's rows: practice, replay digest, user, session and audit entry.

Two ways to the same rows, chosen by `handshake.services.session_open`: on PostgreSQL one
statement (writable CTEs, one round trip), elsewhere the ORM in one transaction. Both return
False for a replayed handshake and write nothing then.
"""

import functools
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction

from handshake.models import AuditEntry, HandshakeSeen, HintSession, Practice, PracticeUser
from hintpartner.db import db_value, fetch_one

# Refreshed from every handshake (with `last_visit_at`).
USER_FIELDS = ("email", "first_name", "last_name", "name", "roles")


def session_write(
    *,
    practice: Practice,
    user: PracticeUser | None,
    session: HintSession,
    audit: AuditEntry,
    digest: str,
    seen_until: datetime,
) -> bool:
    """The same writes through the ORM, in one transaction (SQLite: no writable CTEs)."""
    with transaction.atomic():
        practice = _practice_upsert(hint_id=practice.hint_id, name=practice.name)
        if digest:
            try:
                with transaction.atomic():
                    HandshakeSeen.objects.create(
                        practice=practice, digest=digest, expires_at=seen_until
                    )
            except IntegrityError:
                transaction.set_rollback(True)
                return False
        if user is not None:
            fields = {f: getattr(user, f) for f in (*USER_FIELDS, "last_visit_at")}
            user, _ = PracticeUser.objects.for_practice(practice).update_or_create(
                practice=practice, hint_id=user.hint_id, defaults=fields
            )
        session.practice, session.user = practice, user
        session.save(force_insert=True)
        audit.practice, audit.user = practice, user
        audit.save(force_insert=True)
    return True


@functools.cache
def _shape(model: type[models.Model], fk: tuple[tuple[str, str], ...]) -> tuple[str, str, list]:
    """`model`'s columns for an INSERT (primary key left out), the SELECT list of their values
    (`%s`, or the SQL expression `fk` gives for a column) and the fields that take a parameter,
    in order. The same for every handshake, so worked out once."""
    given = dict(fk)
    names, select, fields = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(connection.ops.quote_name(field.column))
        if field.column in given:
            select.append(given[field.column])
        else:
            select.append("%s")
            fields.append(field)
    return ", ".join(names), ", ".join(select), fields


def _row_params(
    model: type[models.Model],
    fk: tuple[tuple[str, str], ...],
    given: dict[str, Any],
    now: datetime,
    conn: Any,
) -> list[Any]:
    """The parameters of one row of `model` in the statement, prepared as the ORM would save
    them (encryption, JSON): `given` by field name; `now` for an auto_now(_add) field; else the
    field's default. No model instance is built: that cost more than the rest of the request's
    Python (bench/handshake.py)."""
    params = []
    for field in _shape(model, fk)[2]:
        if field.name in given:
            value = given[field.name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        params.append(db_value(field, value, conn))
    return params


_SESSION_FK = (("practice_id", "go.id"), ("user_id", "(SELECT id FROM u)"))
_SUPPORT_FK = (("practice_id", "go.id"), ("user_id", "NULL"))
_USER_FK = (("practice_id", "go.id"),)


@functools.cache
def _statement(with_user: bool) -> str:
    """The handshake's one statement (see `session_write_one_statement`, which sends its values
    in order); built once per shape. Names come from the models; every value is a parameter."""
    q = connection.ops.quote_name
    fk = _SESSION_FK if with_user else _SUPPORT_FK
    p_cols, p_vals, _ = _shape(Practice, ())
    s_cols, s_vals, _ = _shape(HintSession, fk)
    a_cols, a_vals, _ = _shape(AuditEntry, fk)
    user_sql = ""
    if with_user:
        u_cols, u_vals, _ = _shape(PracticeUser, _USER_FK)
        refreshed = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in (*USER_FIELDS, "last_visit_at"))
        user_sql = (
            f"u AS (INSERT INTO {q(PracticeUser._meta.db_table)} ({u_cols}) "  # noqa: S608
            f"SELECT {u_vals} FROM go ON CONFLICT (practice_id, hint_id) DO UPDATE "
            f"SET {refreshed} RETURNING id),"
        )
    p_table = q(Practice._meta.db_table)
    return f"""
        WITH p_new AS (
            INSERT INTO {p_table} ({p_cols}) VALUES ({p_vals})
            ON CONFLICT (hint_id) DO NOTHING RETURNING id
        ),
        named AS (
            UPDATE {p_table} SET name = %s, updated_at = %s
            WHERE hint_id = %s AND %s <> '' AND name <> %s RETURNING id
        ),
        p AS (
            SELECT id FROM p_new
            UNION ALL
            SELECT id FROM {p_table}
            WHERE hint_id = %s AND NOT EXISTS (SELECT 1 FROM p_new)
        ),
        seen AS (
            INSERT INTO {q(HandshakeSeen._meta.db_table)} (practice_id, digest, expires_at)
            SELECT p.id, %s, %s FROM p WHERE %s <> ''
            ON CONFLICT (digest) DO NOTHING RETURNING id
        ),
        go AS (SELECT p.id FROM p WHERE %s = '' OR EXISTS (SELECT 1 FROM seen)),
        {user_sql}
        s AS (
            INSERT INTO {q(HintSession._meta.db_table)} ({s_cols})
            SELECT {s_vals} FROM go RETURNING id
        ),
        a AS (
            INSERT INTO {q(AuditEntry._meta.db_table)} ({a_cols})
            SELECT {a_vals} FROM go RETURNING id
        )
        SELECT (SELECT id FROM s) FROM p
    """  # noqa: S608


def session_write_one_statement(
    *,
    practice: dict[str, Any],
    user: dict[str, Any] | None,
    session: dict[str, Any],
    audit: dict[str, Any],
    digest: str,
    seen_until: datetime,
    now: datetime,
) -> bool:
    """PostgreSQL: every write of the handshake in one autocommitted statement (one round trip),
    from the rows' values by field name (`practice` needs `hint_id` and `name`).

    - `p`: the practice, inserted if new (`DO NOTHING`: a known practice is not locked), else
      read; `named` renames it only when the handshake carries another name;
    - `seen`: the replay digest; a conflict (a replay) leaves `go` empty, and then nothing else
      is written: the statement answers no session row;
    - `u`: the user upserted (`ON CONFLICT … DO UPDATE`: roles and names refresh; measured
      cheaper, also at c=8, than reading a known user and updating only what changed);
    - `s`, `a`: the session (token encrypted by the field) and its audit entry.

    False for a replay (nothing written).
    """
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: no thread-local lookup per field
    name, hint_id = practice["name"], practice["hint_id"]
    params = [
        *_row_params(Practice, (), practice, now, conn),
        *(name, now, hint_id, name, name),
        hint_id,
        *(digest, seen_until, digest, digest),
    ]
    fk = _SESSION_FK if user is not None else _SUPPORT_FK
    if user is not None:
        params += _row_params(PracticeUser, _USER_FK, user, now, conn)
    params += _row_params(HintSession, fk, session, now, conn)
    params += _row_params(AuditEntry, fk, audit, now, conn)
    sql = _statement(user is not None)
    for _attempt in range(2):
        row = fetch_one(sql, params)  # prepared: parsed and planned once per connection
        if row is not None:
            break
        # The practice was created by a concurrent first handshake after this statement's
        # snapshot was taken: nothing was written; the second try reads it.
    else:
        raise RuntimeError("the practice of a handshake could not be read")
    return row[0] is not None  # no session row: the digest was there already, a replay


def _practice_upsert(*, hint_id: str, name: str) -> Practice:
    practice, _ = Practice.objects.get_or_create(hint_id=hint_id, defaults={"name": name})
    if name and practice.name != name:
        practice.name = name
        practice.save(update_fields=["name", "updated_at"])
    return practice
