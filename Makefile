# Two commands are all a newcomer needs: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres install clean translations screenshots

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

## make translations: extract the staff pages' messages into messages.pot and merge them into each .po
## (the .po files are compiled to .mo when the app starts: switchboard/i18n.py)
translations: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output --project vaxel \
		-o switchboard/translations/messages.pot .
	$(BIN)/pybabel update -i switchboard/translations/messages.pot -d switchboard/translations \
		--ignore-obsolete --width 120

## make screenshots: the README's screenshots (docs/screenshots/*.png, 1366x768), taken by the browser tests
screenshots: $(VENV)/.dev
	VAXEL_SCREENSHOTS=1 $(BIN)/pytest -q tests/test_console_browser.py tests/test_stats_browser.py tests/test_browser.py

clean:
	rm -rf $(VENV) var .pytest_cache *.egg-info
