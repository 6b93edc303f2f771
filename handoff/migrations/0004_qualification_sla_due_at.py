"""Each qualification cycle keeps its own SLA due time (SLA compliance judges a cycle by it).

Existing rows get the best-known value: the due time of the cycle's first breach, else the
lead's due time when the cycle is its current one, else qualification time + the policy's
SLA hours.
"""

from datetime import timedelta

from django.db import migrations, models


def backfill(apps, schema_editor):
    qualification = apps.get_model("handoff", "Qualification")
    breach = apps.get_model("handoff", "SlaBreach")
    lifecycle = apps.get_model("handoff", "LeadLifecycle")
    policy = apps.get_model("handoff", "MqlPolicy").objects.first()
    hours = float(policy.sla_hours) if policy else 24.0
    rows = qualification.objects.filter(sla_due_at__isnull=True).iterator(2000)
    for row in rows:
        first = (
            breach.objects.filter(lead_id=row.lead_id, cycle=row.cycle)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        if first is None and row.merged_from is None:
            first = (
                lifecycle.objects.filter(lead_id=row.lead_id, cycle=row.cycle, mql_at=row.at)
                .values_list("sla_due_at", flat=True)
                .first()
            )
        row.sla_due_at = first or row.at + timedelta(hours=hours)
        row.save(update_fields=["sla_due_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0003_notify_retries_webhook_disable_resend"),
    ]

    operations = [
        migrations.AddField(
            model_name="qualification",
            name="sla_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
