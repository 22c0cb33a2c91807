# Mailer: the README's two commands are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check

# `PORT=8765 make run` serves on another port; SITE_URL (links in emails) follows it unless .env sets SITE_URL.
PORT ?= 8000

.PHONY: run test lint format bench install install-dev migrate messages clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || \
		{ echo "Mailer needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1)); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(PY) requirements.txt
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

.env:
	cp .env.example .env
	@echo "Created .env from .env.example (edit it to configure Mailer)."

migrate: install .env
	$(PY) manage.py migrate --noinput

## Web server on http://127.0.0.1:$(PORT) plus the scheduler, with a demo account (honcho, a development tool).
run: install-dev migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py csu --if-set
	@echo "Starting web (http://127.0.0.1:$(PORT)) and scheduler; Ctrl+C stops both."
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" RUN_PORT=$(PORT) $(VENV)/bin/honcho -f Procfile.dev start

## The whole suite (SQLite + local-memory cache unless DATABASE_URL / REDIS_URL are set).
test: install-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks print figures; they never assert timings.
bench: install-dev
	@set -e; found=0; for script in bench/*.py; do [ -e "$$script" ] || continue; found=1; \
		echo "== $$script"; $(PY) $$script; done; [ $$found = 1 ] || echo "No benchmarks in bench/ yet."

## Rebuild the translation catalogues (needs GNU gettext).
messages: install
	$(PY) manage.py makemessages -l ru --ignore=.venv --ignore=static --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
