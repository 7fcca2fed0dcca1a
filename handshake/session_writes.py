"""Writing a new session's rows: practice, replay digest, user, session and audit entry.

Two ways to the same rows, chosen by `handshake.services.session_open`: on PostgreSQL one
statement (writable CTEs, one round trip), elsewhere the ORM in one transaction. Both return
False for a replayed handshake and write nothing then.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, models, transaction

from handshake.models import AuditEntry, HandshakeSeen, HintSession, Practice, PracticeUser

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


def _columns(obj: models.Model, fk: dict[str, str]) -> tuple[str, str, list[Any]]:
    """`obj`'s columns for an INSERT (primary key left out), the SELECT list of their values
    (`%s`, or the SQL expression `fk` gives for a column) and the parameters, prepared as the
    ORM would (auto_now_add, encryption, JSON)."""
    names, select, params = [], [], []
    for field in obj._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(connection.ops.quote_name(field.column))
        if field.column in fk:
            select.append(fk[field.column])
        else:
            select.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
    return ", ".join(names), ", ".join(select), params


_PRACTICE_FIELDS = [f for f in Practice._meta.concrete_fields]


def session_write_one_statement(
    *,
    practice: Practice,
    user: PracticeUser | None,
    session: HintSession,
    audit: AuditEntry,
    digest: str,
    seen_until: datetime,
) -> bool:
    """PostgreSQL: every write of the handshake in one autocommitted statement (one round trip).

    - `p`: the practice, inserted if new (`DO NOTHING`: a known practice is not locked), else
      read; `named` renames it only when the handshake carries another name;
    - `seen`: the replay digest; a conflict (a replay) leaves `go` empty, and then nothing else
      is written: the statement answers no session row;
    - `u`: the user upserted (`ON CONFLICT … DO UPDATE`: roles and names refresh);
    - `s`, `a`: the session (token encrypted by the field) and its audit entry.
    """
    q = connection.ops.quote_name
    now = session.last_seen_at
    practice.created_at = practice.updated_at = now
    p_cols, p_vals, p_params = _columns(practice, {})
    user_fk = {"practice_id": "go.id", "user_id": "(SELECT id FROM u)" if user else "NULL"}
    s_cols, s_vals, s_params = _columns(session, user_fk)
    a_cols, a_vals, a_params = _columns(audit, user_fk)
    user_sql, u_params = "", []
    if user is not None:
        u_cols, u_vals, u_params = _columns(user, {"practice_id": "go.id"})
        refreshed = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in (*USER_FIELDS, "last_visit_at"))
        user_sql = (
            f"u AS (INSERT INTO {q(PracticeUser._meta.db_table)} ({u_cols}) "  # noqa: S608
            f"SELECT {u_vals} FROM go ON CONFLICT (practice_id, hint_id) DO UPDATE "
            f"SET {refreshed} RETURNING id, created_at),"
        )
    p_table = q(Practice._meta.db_table)
    p_list = ", ".join(f"p.{q(f.column)}" for f in _PRACTICE_FIELDS)
    # Names from the models only; every value is a parameter.
    sql = f"""
        WITH p_new AS (
            INSERT INTO {p_table} ({p_cols}) VALUES ({p_vals})
            ON CONFLICT (hint_id) DO NOTHING RETURNING *
        ),
        named AS (
            UPDATE {p_table} SET name = %s, updated_at = %s
            WHERE hint_id = %s AND %s <> '' AND name <> %s RETURNING id
        ),
        p AS (
            SELECT * FROM p_new
            UNION ALL
            SELECT * FROM {p_table}
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
            SELECT {s_vals} FROM go RETURNING id, created_at
        ),
        a AS (
            INSERT INTO {q(AuditEntry._meta.db_table)} ({a_cols})
            SELECT {a_vals} FROM go RETURNING id
        )
        SELECT (SELECT id FROM s), (SELECT created_at FROM s),
               {"(SELECT id FROM u), (SELECT created_at FROM u)" if user else "NULL, NULL"},
               {p_list}
        FROM p
    """  # noqa: S608
    name, hint_id = practice.name, practice.hint_id
    params = [
        *p_params,
        *(name, now, hint_id, name, name),
        hint_id,
        *(digest, seen_until, digest),
        digest,
        *u_params,
        *s_params,
        *a_params,
    ]
    for _attempt in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is not None:
            break
        # The practice was created by a concurrent first handshake after this statement's
        # snapshot was taken: nothing was written; the second try reads it.
    else:
        raise RuntimeError("the practice of a handshake could not be read")
    session_pk, session_created, user_pk, user_created, *p_row = row
    if session_pk is None:
        return False  # the digest was there already: a replay; nothing was written
    values = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(_PRACTICE_FIELDS, p_row, strict=True)
    ]
    stored = Practice.from_db(connection.alias, [f.attname for f in _PRACTICE_FIELDS], values)
    if name:
        stored.name = name
    if user is not None:
        user.pk, user.created_at, user.practice = user_pk, user_created, stored
        user._state.adding, user._state.db = False, connection.alias
    session.pk, session.created_at = session_pk, session_created
    session.practice, session.user = stored, user
    session._state.adding, session._state.db = False, connection.alias
    return True


def _practice_upsert(*, hint_id: str, name: str) -> Practice:
    practice, _ = Practice.objects.get_or_create(hint_id=hint_id, defaults={"name": name})
    if name and practice.name != name:
        practice.name = name
        practice.save(update_fields=["name", "updated_at"])
    return practice
