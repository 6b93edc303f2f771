"""manage.py demo_seed: create the demo users, rules and leads once, and print the logins."""

from typing import Any

from django.core.management.base import BaseCommand

from mqlapp.console.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create demo users for the three roles, scoring rules, and leads with four months of "
        "activity and of sales work (once: a second run changes nothing)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        self.stdout.write("mqlapp demo logins (username / password / role):")
        for username, password, role in result["users"]:
            self.stdout.write(f"  {username:10} {password:18} {role}")
        for key, kind in (("source", "browser"), ("server_source", "server")):
            source = result[key]
            self.stdout.write(f"demo {kind} write key ({source.name}): {source.write_key}")
