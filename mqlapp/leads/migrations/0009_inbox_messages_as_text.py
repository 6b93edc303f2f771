"""The inbox row's messages as text, not bytea (issue 9): the JSON travels to PostgreSQL as
itself instead of twice its size in hex (parsed, decoded and, on the way back, encoded again):
a 180 KB row of 500 messages cost its backend ~0.75 ms less to store and ~0.5 ms less to read
(docs/benchmarks.md). Still compressed with lz4 where the server has it (a changed type keeps
no column setting: 0006's is set again). On SQLite the column keeps its type: a BLOB column
holds text values as they are."""

import importlib

from django.db import migrations, models

_CONVERT = {"text": "convert_from(messages, 'UTF8')", "bytea": "convert_to(messages, 'UTF8')"}


def _retype(schema_editor, kind: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE leads_inboxbatch ALTER COLUMN messages TYPE {kind} USING {_CONVERT[kind]}"
        )
    importlib.import_module("mqlapp.leads.migrations.0006_inbox_batch").compress_lz4(
        None, schema_editor
    )


def to_text(apps, schema_editor):
    _retype(schema_editor, "text")


def to_bytea(apps, schema_editor):
    _retype(schema_editor, "bytea")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0008_event_owners_without_constraint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(to_text, to_bytea)],
            state_operations=[
                migrations.AlterField(
                    model_name="inboxbatch", name="messages", field=models.TextField()
                ),
            ],
        ),
    ]
