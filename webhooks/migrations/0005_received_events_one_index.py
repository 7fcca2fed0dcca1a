from django.db import migrations


def drop_like_index(apps, schema_editor):
    """On PostgreSQL Django gives a text primary key a second, LIKE index; no query here uses
    LIKE, and the receiver's insert would pay for it. A migration of its own: the index is
    created at the end of the migration that creates the table."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("webhooks", "ReceivedWebhookEvent")._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    for name, info in constraints.items():
        if info["index"] and not info["primary_key"] and name.endswith("_like"):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):

    dependencies = [
        ("webhooks", "0004_received_events"),
    ]

    operations = [
        migrations.RunPython(drop_like_index, migrations.RunPython.noop),
    ]
