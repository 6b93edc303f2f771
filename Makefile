# mqlapp: `make run` (the whole product, embedded default, demo data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Pinned dependencies (`make lock` writes both): the dev lock is what `make venv` installs and the
# tests run on; the runtime lock, a subset at the same versions, is what docker-compose installs.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_ARGS ?=
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet pyproject.toml --universal --python-version 3.11 \
	--custom-compile-command "make lock"
PORT ?= 8000
PYTEST_ARGS ?= -n 2

.PHONY: run test lint check bench fmt clean browsers messages venv lock

$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(DEV_LOCK)
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# Re-pin from pyproject.toml after changing its dependencies. Pins that still fit are kept;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions. The runtime
# lock is constrained by the dev lock, so production gets exactly the versions the tests ran on.
lock: $(STAMP)
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK) $(LOCK_ARGS)
	$(UV_COMPILE) --constraints $(DEV_LOCK) -o $(LOCK) $(LOCK_ARGS)

# The whole product on the embedded default: SQLite, no Redis, one worker on all four queues
# (docs/scaling.md) with beat, on a filesystem broker, demo users and data. Set DATABASE_URL /
# REDIS_URL to use real ones.
run: $(STAMP)
	@set -euo pipefail; \
	export DEBUG=$${DEBUG:-true}; \
	export PORT=$(PORT) MQLAPP_DEMO=$${MQLAPP_DEMO:-$$DEBUG}; \
	export APP_BASE_URL=$${APP_BASE_URL:-http://127.0.0.1:$(PORT)}; \
	if [ -z "$${REDIS_URL:-}" ] && [ -z "$${CELERY_BROKER_URL:-}" ]; then \
	  export CELERY_BROKER_URL=filesystem://; fi; \
	$(PY) manage.py migrate --noinput -v 0; \
	$(PY) manage.py demo_seed; \
	mkdir -p .run; \
	$(VENV)/bin/celery -A mqlapp worker -B -Q ingest,scoring,handoff,webhooks --pool=solo \
	  --loglevel=WARNING --schedule .run/celerybeat-schedule > .run/worker.log 2>&1 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null || true' EXIT INT TERM; \
	echo "mqlapp: background worker running (log: .run/worker.log)"; \
	echo "mqlapp: open http://127.0.0.1:$(PORT)/ (health: http://127.0.0.1:$(PORT)/healthz)"; \
	$(PY) manage.py runserver 0.0.0.0:$(PORT) --noreload

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates --lint
	$(VENV)/bin/djlint templates --check
	DEBUG=true $(VENV)/bin/mypy mqlapp scoring handoff
	$(VENV)/bin/lint-imports
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	@# --reformat exits 1 when it changed a file: then --check says whether all is formatted now.
	$(VENV)/bin/djlint templates --reformat --quiet || $(VENV)/bin/djlint templates --check --quiet

# The test suite: lint, then pytest. Uses PostgreSQL and Redis when they answer (see
# tests/probe.py); under CI=true a missing service is a failure, not a skip.
test: $(STAMP)
	@set -euo pipefail; \
	exports=$$($(PY) tests/probe.py); eval "$$exports"; export CONN_MAX_AGE=0; \
	$(MAKE) --no-print-directory lint; \
	DEBUG=true $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@set -euo pipefail; eval "$$($(PY) tests/probe.py)"; \
	DEBUG=true $(PY) -m tests.bench

clean:
	rm -rf $(VENV) .run mqlapp.sqlite3* staticfiles .pytest_cache .mypy_cache .ruff_cache

# Refresh locale/ja after changing user-visible text (needs gettext), then translate and commit.
messages: $(STAMP)
	DEBUG=true $(PY) manage.py makemessages -l ja -i ".venv/*" -i "tests/*"
	DEBUG=true $(PY) manage.py compilemessages -l ja -i ".venv"
