"""manage.py events_retention [--months N] [--days N] [--visitor-days N]: delete old events
(whole months, or days) and the events of visitors never identified."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mqlapp.leads.event_partitions import Retention, events_retention_apply
from mqlapp.leads.retention import events_retention_days_apply, visitors_retention_apply


class Command(BaseCommand):
    help = (
        "Drop events older than N whole months before the current one (--months; their monthly "
        "partitions and message keys), delete events older than N days (--days: whole months "
        "dropped, the boundary month row by row), and delete the events of visitors never "
        "identified and not seen for N days (--visitor-days). Without options: the settings "
        "EVENT_RETENTION_MONTHS, EVENT_RETENTION_DAYS and VISITOR_RETENTION_DAYS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, default=None, help="months to keep (0 or more)")
        parser.add_argument("--days", type=int, default=None, help="days of events to keep (1+)")
        parser.add_argument(
            "--visitor-days",
            type=int,
            default=None,
            help="days an unidentified visitor is kept after last seen (1+)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        given = [options[k] for k in ("months", "days", "visitor_days")]
        months, days, visitor_days = (
            given
            if any(v is not None for v in given)
            else [
                settings.EVENT_RETENTION_MONTHS,
                settings.EVENT_RETENTION_DAYS,
                settings.VISITOR_RETENTION_DAYS,
            ]
        )
        if months is None and days is None and visitor_days is None:
            raise CommandError(
                "events are kept forever: pass --months N, --days N or --visitor-days N, or set "
                "EVENT_RETENTION_MONTHS, EVENT_RETENTION_DAYS or VISITOR_RETENTION_DAYS"
            )
        if months is not None and months < 0:
            raise CommandError("--months must be 0 or more")
        for name, value in (("--days", days), ("--visitor-days", visitor_days)):
            if value is not None and value < 1:
                raise CommandError(f"{name} must be 1 or more")
        if months is not None:
            self._report(events_retention_apply(months=months))
        if days is not None:
            self._report(events_retention_days_apply(days=days))
        if visitor_days is not None:
            visitors = visitors_retention_apply(days=visitor_days)
            self.stdout.write(
                f"visitors never identified, last seen before {visitors.cutoff:%Y-%m-%d %H:%M} "
                f"UTC: {visitors.visitors} deleted with {visitors.removed.events} event(s) and "
                f"{visitors.removed.keys} key(s); {visitors.kept_active} seen since kept"
            )

    def _report(self, done: Retention) -> None:
        self.stdout.write(
            f"kept events from {done.cutoff:%Y-%m-%d %H:%M} UTC on; dropped "
            f"{len(done.partitions)} partition(s) ({', '.join(done.partitions) or 'none'}), "
            f"{done.events} event(s), {done.keys} key(s); "
            f"{len(done.lead_ids)} lead(s) queued for scoring"
        )
