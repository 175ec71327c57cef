# Tongxin's two commands (README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint

install: $(VENV)/.installed

# Reinstalled whenever pyproject.toml (the pinned dependencies) changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet ".[test]"
	touch $@

# Sets up and runs the whole system. With no DATABASE_URL / REDIS_URL: SQLite, the
# in-process channel layer and Celery in threads of the server (embedded default).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  Tongxin 同心 is starting at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@echo
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT)

# Runs the whole suite: lint, then the tests. PostgreSQL and Redis on this machine are
# used when they answer (tests/backends.py); their tests are skipped, with the reason,
# when they don't.
test: install
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
