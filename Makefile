# Two commands are all a newcomer needs: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime

## make run: install, migrate var/vaxel.db, load the demo municipality if empty, serve on :5000
run: $(VENV)/.runtime
	$(BIN)/vaxel db upgrade
	$(BIN)/vaxel user ensure-admin
	$(BIN)/vaxel demo load --if-empty
	$(BIN)/vaxel serve

## make test: install dev dependencies, check the layers (import-linter) and run the whole suite (SQLite)
test: $(VENV)/.dev
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

## make test-postgres: the database tests again, against PostgreSQL ($(PG_URL))
test-postgres: $(VENV)/.dev
	VAXEL_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -m db

clean:
	rm -rf $(VENV) var .pytest_cache *.egg-info
