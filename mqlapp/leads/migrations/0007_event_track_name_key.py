from django.db import migrations

# The same expression as event_store.TRACK_NAME_KEY (on the column itself): a track event's
# name lower-cased when it is plain ASCII with no space or control character at either end,
# else NULL (those names are matched in Python, which applies the exact rule). PostgreSQL
# uses the index only for queries that spell the expression the same way.
CREATE = (
    "CREATE INDEX IF NOT EXISTS event_track_name_key ON leads_event (("
    "CASE WHEN octet_length(name) = char_length(name) AND ascii(name) > 32 "
    "AND ascii(right(name, 1)) > 32 THEN lower(name) END), lead_id) WHERE type = 'track'"
)


def create(apps, schema_editor):
    """On PostgreSQL only (SQLite has neither the functions nor the need)."""
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS event_track_name_key")


class Migration(migrations.Migration):
    """Rules read a few event names among many: the simulator's draft rules and the
    backtest load a range of leads' events of those names through this index instead of
    every event of the range (docs/benchmarks.md)."""

    dependencies = [
        ("leads", "0006_inbox_batch"),
    ]

    operations = [migrations.RunPython(create, drop)]
