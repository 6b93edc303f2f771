"""Entry points of the simulator's worker processes; importable before Django is set up.

A spawned process unpickles these before anything else, so this module imports no models:
the initializer sets Django up, `call` then imports the real function by name.
"""

import importlib
import os
from typing import Any


def worker_init(settings_module: str, database: dict[str, Any], debug: bool | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django  # noqa: PLC0415 (a spawned process sets Django up here first)
    from django.conf import settings  # noqa: PLC0415

    settings.DATABASES["default"].update(database)  # before the first connection
    django.setup()
    if debug is not None:
        # as the parent runs (with DEBUG, Django keeps the last 9,000 statements of each
        # process, hundreds of MB of SQL text in a simulator's worker)
        settings.DEBUG = debug
    from mqlapp.leads.process import process_tune  # noqa: PLC0415 (needs the settings)

    process_tune()


def call(module: str, name: str, args: tuple[Any, ...]) -> Any:
    return getattr(importlib.import_module(module), name)(*args)
