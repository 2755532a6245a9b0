# The two commands of the README:
#   make up    set up and run the product (SQLite, local Prefect server, dashboard, demo data)
#   make test  set up and run the whole test suite (format, lint, types, import contracts, pytest)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup up test check pytest benchmark clean

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
	$(BIN)/pytest

test: check pytest

benchmark: setup
	$(BIN)/python benchmarks/step_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
