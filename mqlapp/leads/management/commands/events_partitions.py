"""manage.py events_partitions [--drain]: the events table's monthly partitions now, as the
hourly job keeps them (docs/partitioning.md)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mqlapp.leads.event_partitions import DRAIN_MOST, event_partitions_upkeep


class Command(BaseCommand):
    help = (
        "Create this month's and the next months' event partitions, and give the past months "
        "that wait in the DEFAULT partition (a back-fill of history) partitions of their own, "
        f"as the hourly job does: months of up to {DRAIN_MOST:,} events. --drain moves every "
        "such month whatever its size: the table is locked while a month's rows move, so run "
        "it at a quiet hour."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--drain", action="store_true", help="move months of any size out of DEFAULT"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        done = event_partitions_upkeep(whole=options["drain"])
        created, left = done.created, done.too_large
        for name in created:
            self.stdout.write(f"created {name}")
        for name, count in left.items():
            self.stdout.write(f"left in DEFAULT: {count:,} events of {name} (--drain moves them)")
        if not created and not left:
            self.stdout.write("nothing to do")
