# Spectra — `make run` starts the demo, `make test` runs the tests. Both set everything up themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_LINK_MODE := copy
WEB_DIST := src/spectra/web/dist/index.html
FRONTEND_SOURCES := $(shell find frontend -path frontend/node_modules -prune -o -type f \
	\( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' -o -name 'package*.json' -o -name '*.config.*' \) -print 2>/dev/null)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run demo test test-sqlite test-postgres lint format bench ui migration clean openapi

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(BIN)/uv pyproject.toml uv.lock
	$(BIN)/uv sync --frozen --quiet
	touch $@

install: $(VENV)/.synced ## Python deps in .venv (from the lock file) and the UI build

# `npm install` with the committed lock installs exactly the locked versions; `npm ci` refuses a lock that
# omits other platforms' optional packages (as npm writes it here), so it is not used.
frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm install --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_DIST): frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build
	touch $@

ui: ## Build the web UI into the Python package when missing or stale
	@if [ -f frontend/package.json ]; then $(MAKE) --no-print-directory $(WEB_DIST); fi

run: install ui ## Start the demo: migrations, seed on first boot, UI and API on http://127.0.0.1:8000
	$(BIN)/spectra demo

demo: run

test: install ui ## UI unit tests and client freshness, then pytest on SQLite (and PostgreSQL when SPECTRA_TEST_DATABASE_URL is set)
	@if [ -f frontend/package.json ]; then cd frontend && npm test --silent && npm run --silent check-gen; fi
	env -u SPECTRA_TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$SPECTRA_TEST_DATABASE_URL" ]; then echo "=== again on PostgreSQL ($$SPECTRA_TEST_DATABASE_URL)"; \
		$(BIN)/pytest; fi

test-postgres: install ui ## Run the tests on the local PostgreSQL
	SPECTRA_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

lint: install ## ruff + mypy
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench migrations
	$(BIN)/ruff format src tests bench migrations

bench: install ## Run every benchmark; JSON on stdout, reports in bench/results/
	$(BIN)/python bench/run_all.py

openapi: install ## Write the OpenAPI schema the UI client is generated from
	$(BIN)/spectra openapi --out frontend/openapi.json

migration: install ## Generate a migration from model changes: make migration m="what changed"
	$(BIN)/spectra db revision "$(m)"

clean:
	rm -rf $(VENV) src/spectra/web/dist frontend/node_modules var/test-output
