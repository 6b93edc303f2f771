"""Behind a transaction pooler (PgBouncer pool_mode=transaction) nothing may outlive a
transaction: DATABASE_POOLER=transaction turns Django's server-side cursors off, and the code
keeps no session state (docs/scaling.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import django; django.setup(); from django.conf import settings;"
    "print(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS'))"
)

# Session state a transaction pooler cannot keep: each pattern names what to use instead.
SESSION_STATE = {
    r"pg_advisory_(?:un)?lock(?:_shared)?\s*\(": "pg_advisory_xact_lock",
    r"pg_try_advisory_lock(?:_shared)?\s*\(": "pg_try_advisory_xact_lock",
    r"[\"']\s*SET\s+(?!LOCAL\b)(?:SESSION\s+)?[\w.]+\s*(?:=|TO\b)": "SET LOCAL in the transaction",
    r"set_config\([^)]*,\s*(?:false|False)\s*\)": "set_config(…, true)",
    r"[\"']\s*(?:LISTEN|UNLISTEN|NOTIFY)\b": "a Celery task or a queue table",
    r"[\"']\s*(?:PREPARE|DEALLOCATE)\b": "plain parameterised queries",
    r"\bWITH\s+HOLD\b": "a cursor inside the transaction",
    r"\.cursor\(\s*(?:name\s*=|[\"'])": "a cursor inside the transaction",
}


def _settings(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mqlapp.settings",
            "DEBUG": "true",
            "DATABASE_URL": "postgres://mqlapp@pgbouncer:6432/mqlapp",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("pooler", "disabled"), [("transaction", "True"), ("session", "None"), ("", "None")]
)
def test_a_transaction_pooler_turns_server_side_cursors_off(pooler, disabled):
    result = _settings(DATABASE_POOLER=pooler)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [disabled]


def test_an_unknown_pooler_mode_is_refused():
    result = _settings(DATABASE_POOLER="statement")
    assert result.returncode != 0
    assert "DATABASE_POOLER='statement'" in result.stderr


def _hazards(text: str) -> list[str]:
    return [
        f"{match.group(0)!r}: use {instead}"
        for pattern, instead in SESSION_STATE.items()
        for match in re.finditer(pattern, text, flags=re.IGNORECASE)
    ]


def _temp_tables(text: str) -> list[str]:
    """Temporary tables that outlive their transaction (no ON COMMIT DROP in the statement)."""
    found = []
    for match in re.finditer(r"CREATE\s+(?:LOCAL\s+)?TEMP(?:ORARY)?\s+TABLE", text, re.I):
        statement = text[match.start() : match.start() + 600].split("execute(", maxsplit=1)[0]
        if not re.search(r"ON\s+COMMIT\s+DROP", statement, re.I):
            found.append(f"{statement[:60]!r}: add ON COMMIT DROP")
    return found


def test_the_scan_finds_session_state():
    # the patterns below must catch what they stand for, and pass what is safe
    assert len(_hazards('cursor.execute("SELECT pg_advisory_lock(%s)", [1])')) == 1
    assert len(_hazards('cursor.execute("SET statement_timeout = 0")')) == 1
    assert len(_hazards("cursor.execute(\"SELECT set_config('x', '1', false)\")")) == 1
    assert len(_hazards('cursor.execute("LISTEN scores")')) == 1
    assert len(_hazards('connection.cursor(name="big")')) == 1
    assert _hazards("cursor.execute(\"SET LOCAL lock_timeout = '1s'\")") == []
    assert len(_hazards("cursor.execute('set search_path to x')")) == 1
    assert _hazards('cursor.execute("UPDATE t SET a = 1")') == []
    assert _hazards('"""Set the owner = the rep."""') == []
    assert _hazards('cursor.execute("SELECT pg_advisory_xact_lock(%s)", [1])') == []
    assert len(_temp_tables('cursor.execute("CREATE TEMP TABLE t (a int)")')) == 1
    assert (
        _temp_tables('cursor.execute(\n  "CREATE TEMP TABLE t (a int) "\n  "ON COMMIT DROP")') == []
    )


def test_no_code_keeps_session_state_a_transaction_pooler_would_lose():
    found = []
    for package in ("mqlapp", "scoring", "handoff"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # migrations connect to PostgreSQL directly
            text = path.read_text()
            found += [f"{path.relative_to(ROOT)}: {hazard}" for hazard in _temp_tables(text)]
            found += [f"{path.relative_to(ROOT)}: {hazard}" for hazard in _hazards(text)]
    assert found == []
