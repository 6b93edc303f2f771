import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The events table's lead and source columns keep no foreign-key constraint: its check
    ran once per inserted row at commit (1.7 s per 100,000 events, more than the insert);
    `event_store.event_owners_hold` holds the rows a statement names instead, once per
    statement (docs/partitioning.md)."""

    dependencies = [
        ("leads", "0007_event_track_name_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="lead",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="source",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="leads.source",
            ),
        ),
    ]
