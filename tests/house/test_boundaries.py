"""The house's boundaries can fail: import-linter breaks on an upward import or a Django
import in the engine, and every Celery task is named after the module that defines it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_copy(tmp_path: Path, *, file: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run the project's import contracts on a copy of the code with `line` added to `file`."""
    for package in ("mqlapp", "scoring", "handoff"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / file
    target.write_text(target.read_text() + f"\n{line}\n")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_contracts_hold_on_the_code_as_it_is(tmp_path):
    result = _lint_copy(tmp_path, file="scoring/engine/facts.py", line="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_django_import_in_the_engine_breaks_the_purity_contract(tmp_path):
    result = _lint_copy(tmp_path, file="scoring/engine/facts.py", line="import django.db  # noqa")
    assert result.returncode != 0
    assert "The scoring engine is pure" in result.stdout
    assert "scoring.engine.facts -> django" in result.stdout


def test_a_core_import_of_handoff_breaks_the_layers(tmp_path):
    result = _lint_copy(
        tmp_path, file="mqlapp/leads/services.py", line="import handoff.models  # noqa"
    )
    assert result.returncode != 0
    assert "Layers: shell -> console -> handoff -> scoring -> core BROKEN" in result.stdout
    assert "mqlapp.leads.services -> handoff.models" in result.stdout


def test_an_indirect_upward_import_breaks_the_layers(tmp_path):
    # scoring → console (through a function-level import of a module that imports handoff)
    result = _lint_copy(
        tmp_path,
        file="scoring/selectors.py",
        line="def _up():\n    from mqlapp.console import selectors  # noqa\n",
    )
    assert result.returncode != 0
    assert "scoring.selectors -> mqlapp.console.selectors" in result.stdout


@pytest.mark.django_db
def test_every_task_is_named_after_its_module_and_every_beat_entry_names_one():
    from celery import current_app

    ours = {
        name: task
        for name, task in current_app.tasks.items()
        if name.split(".")[0] in ("mqlapp", "scoring", "handoff")
    }
    assert ours, "no project task is registered"
    for name, task in ours.items():
        run = getattr(task, "run", task)
        assert name == f"{run.__module__}.{run.__name__}", name
    for entry in current_app.conf.beat_schedule.values():
        assert entry["task"] in ours, entry["task"]
