# Tongxin's two commands (README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint

# The JavaScript tools (ESLint) are only for `make test`: `make run` needs no Node.js,
# and installs them only where npm is found.
NPM := $(shell command -v npm 2>/dev/null)

install: $(VENV)/.installed $(if $(NPM),node_modules/.installed)

# Reinstalled whenever pyproject.toml (the pinned dependencies) changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet ".[test]"
	touch $@

# Reinstalled whenever package-lock.json (the pinned JavaScript tools) changes.
node_modules/.installed: package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js 18.18+ and npm (apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Sets up and runs the whole system. With no DATABASE_URL / REDIS_URL: SQLite, the
# in-process channel layer and Celery in threads of the server (embedded default), with
# DEBUG off like production (DEBUG=1 make run for Django's debug pages). Static files are
# collected with hashed names (STATIC_HASHED, config/storage.py). The demo logins are
# seeded only into the embedded default's own SQLite database.
run: export STATIC_HASHED ?= 1
run: install
	@$(BIN)/python -m config.bind_guard $(HOST)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo $(if $(DATABASE_URL),,--allow-demo-logins)
	@echo
	@echo "  Tongxin 同心 is starting at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@echo
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT)

# Runs the whole suite: lint (ruff, ESLint), the JavaScript unit tests (Node's test
# runner, no browser), then pytest. PostgreSQL and Redis on this machine are used when
# they answer (tests/backends.py); their tests are skipped, with the reason, when they
# don't.
test: install node_modules/.installed
	$(BIN)/ruff check .
	npx --no-install eslint .
	node --test tests/js/
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	npx --no-install eslint .
