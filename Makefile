# The two commands of the README:
#   make up    set up and run the product (SQLite, local Prefect server, dashboard, demo data)
#   make test  set up and run the whole test suite (format, lint, types, import contracts, pytest
#              on SQLite, then again on PostgreSQL when a server answers: see pytest-postgres)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup up test check pytest pytest-postgres benchmark clean

$(BIN)/crealux: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CREALux needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/crealux

up: setup
	$(BIN)/crealux up

check: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: setup
	CREALUX_TEST_DATABASE=sqlite $(BIN)/pytest

# The rules, domain, service, migration, dashboard (AppTest) and end-to-end tests again, on
# PostgreSQL. Left to the SQLite pass: the browser tests, and the tests of `crealux up` (its
# instance is always on SQLite). The server is CREALUX_TEST_DATABASE_URL, by default
# postgresql://postgres@127.0.0.1:5432/postgres; each test gets its own database there
# (tests/database.py). Exit status 5 (no test selected) is not a failure.
POSTGRES_TESTS ?= tests/rules tests/domain tests/services tests/test_migrations.py \
	tests/dashboards tests/e2e
POSTGRES_SKIP ?= --ignore=tests/e2e/test_up.py --ignore=tests/e2e/test_launcher.py
pytest-postgres: setup
	status=0; CREALUX_TEST_DATABASE=postgresql $(BIN)/pytest -m 'not browser' \
		$(POSTGRES_SKIP) $(POSTGRES_TESTS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest-postgres: no test selected"; status=0; fi; \
	exit $$status

# Exit status 3 of the probe: no PostgreSQL server; anything else but 0 is an error.
test: check pytest
	@status=0; $(BIN)/python -m tests.database probe || status=$$?; \
	if [ $$status -eq 0 ]; then $(MAKE) --no-print-directory pytest-postgres; \
	elif [ $$status -ne 3 ]; then exit $$status; fi

# The measured targets (benchmarks/README.md): each script prints its numbers and appends a JSON
# line to benchmarks/results/<name>.json. About 25 minutes, idle_cpu's 10-minute window included.
benchmark: setup
	$(BIN)/python benchmarks/step_latency.py
	$(BIN)/python benchmarks/sweeper.py
	$(BIN)/python benchmarks/up_time.py
	$(BIN)/python benchmarks/idle_cpu.py
	$(BIN)/python benchmarks/worklist.py
	$(BIN)/python benchmarks/indicators.py
	$(BIN)/python benchmarks/import_rows.py
	$(BIN)/python benchmarks/coordinator_paint.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
