"""manage.py events_retention [--months N]: drop the events older than N whole months."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mqlapp.leads.event_partitions import events_retention_apply


class Command(BaseCommand):
    help = (
        "Drop events older than N whole months before the current one (their monthly "
        "partitions, and their message keys). Without --months: EVENT_RETENTION_MONTHS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, default=None, help="months to keep (0 or more)")

    def handle(self, *args: Any, **options: Any) -> None:
        months = options["months"]
        if months is None:
            months = settings.EVENT_RETENTION_MONTHS
        if months is None:
            raise CommandError(
                "events are kept forever: pass --months N or set EVENT_RETENTION_MONTHS"
            )
        if months < 0:
            raise CommandError("--months must be 0 or more")
        done = events_retention_apply(months=months)
        self.stdout.write(
            f"kept events from {done.cutoff:%Y-%m-%d} UTC on; dropped "
            f"{len(done.partitions)} partition(s) ({', '.join(done.partitions) or 'none'}), "
            f"{done.events} event(s), {done.keys} key(s); "
            f"{len(done.lead_ids)} lead(s) queued for scoring"
        )
