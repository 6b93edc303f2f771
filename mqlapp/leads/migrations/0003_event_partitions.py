# The events table, partitioned by month on PostgreSQL (docs/partitioning.md). Django's state
# does not change (Event keeps `id` as its pk and `message_id` unique; on SQLite it is so);
# on PostgreSQL the table becomes RANGE-partitioned on "timestamp", primary key (id, timestamp),
# a DEFAULT partition and the months around now, and `message_id` is unique in leads_eventkey.

from django.db import migrations
from django.utils import timezone

from mqlapp.leads.event_partitions import AHEAD, event_partitions_ensure, month_add, month_start

EVENT = "leads_event"
KEYS = "leads_eventkey"
# Months of existing events given a partition of their own when the table is converted (older
# events go to the DEFAULT partition).
BACK = 24


def _names(cursor, sql, params=()):
    cursor.execute(sql, params)
    return [row[0] for row in cursor.fetchall()]


def _columns(cursor, table):
    names = _names(
        cursor,
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return ", ".join(f'"{name}"' for name in names)


def partition(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    model = apps.get_model("leads", "Event")
    with conn.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [EVENT])
        if cursor.fetchone()[0] == "p":
            return
        # The key table needs its primary key only (Django adds a LIKE index to a text key;
        # message ids are never searched by prefix).
        for name in _names(
            cursor,
            "SELECT indexrelid::regclass::text FROM pg_index "
            "WHERE indrelid = to_regclass(%s) AND NOT indisprimary",
            [KEYS],
        ):
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
            [EVENT],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {EVENT} RENAME TO {EVENT}_plain")
        cursor.execute(
            f"CREATE TABLE {EVENT} (LIKE {EVENT}_plain INCLUDING DEFAULTS INCLUDING IDENTITY) "
            'PARTITION BY RANGE ("timestamp")'
        )
        cursor.execute(f"CREATE TABLE {EVENT}_default PARTITION OF {EVENT} DEFAULT")
        cursor.execute(f'SELECT min("timestamp") FROM {EVENT}_plain')
        oldest = cursor.fetchone()[0]
    now = month_start(timezone.now())
    first = max(month_start(oldest), month_add(now, -BACK)) if oldest else now
    event_partitions_ensure(min(first, now), month_add(now, AHEAD), using=conn.alias)
    with conn.cursor() as cursor:
        columns = _columns(cursor, f"{EVENT}_plain")
        cursor.execute(f"INSERT INTO {EVENT} ({columns}) SELECT {columns} FROM {EVENT}_plain")
        cursor.execute(
            f'INSERT INTO {KEYS} (message_id, "timestamp") '
            f'SELECT message_id, "timestamp" FROM {EVENT}_plain ON CONFLICT DO NOTHING'
        )
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{EVENT}', 'id'), "
            f"COALESCE(max(id), 0) + 1, false) FROM {EVENT}_plain"
        )
        cursor.execute(f"DROP TABLE {EVENT}_plain")
        cursor.execute(f"SELECT pg_get_serial_sequence('{EVENT}', 'id')")
        sequence = cursor.fetchone()[0]
        if sequence != f"public.{EVENT}_id_seq":
            cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {EVENT}_id_seq")
        # A unique index on a partitioned table must hold the partition key.
        cursor.execute(f'ALTER TABLE {EVENT} ADD CONSTRAINT {EVENT}_pkey PRIMARY KEY (id, "timestamp")')
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {EVENT} ADD CONSTRAINT {name} {definition}")
    # The model's own indexes, by their names. Left out: the unique message_id (leads_eventkey
    # holds it), lead_id alone (the (lead, timestamp) index serves it) and source_id (sources
    # are deactivated, never deleted): fewer indexes, faster inserts.
    for index in model._meta.indexes:
        schema_editor.add_index(model, index)


def unpartition(apps, schema_editor):
    """Back to the plain table Django creates from the model, with the same rows."""
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [EVENT])
        if cursor.fetchone()[0] != "p":
            return
        columns = _columns(cursor, EVENT)
        cursor.execute(f"CREATE TEMP TABLE {EVENT}_rows AS SELECT {columns} FROM {EVENT}")
        cursor.execute(f"DROP TABLE {EVENT}")
        schema_editor.create_model(apps.get_model("leads", "Event"))
        cursor.execute(f"INSERT INTO {EVENT} ({columns}) SELECT {columns} FROM {EVENT}_rows")
        cursor.execute(f"DROP TABLE {EVENT}_rows")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{EVENT}', 'id'), "
            f"COALESCE(max(id), 0) + 1, false) FROM {EVENT}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_eventkey"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
