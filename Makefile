# The front door: every habit is one command.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install serve test check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API on the embedded SQLite database (./assortment.db unless ASSORTMENT_DATABASE_URL is set).
serve: install
	$(BIN)/assortment serve --host $(HOST) --port $(PORT)

## The whole test suite, on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`).
## Outside CI an unreachable PostgreSQL is skipped with a warning; with CI=true it fails the run.
test: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Lint, types, and model/migration drift.
check: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	@tmp=$$(mktemp -d) && \
	  ASSORTMENT_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/alembic upgrade head >/dev/null 2>&1 && \
	  ASSORTMENT_DATABASE_URL=sqlite:///$$tmp/check.db $(BIN)/alembic check; \
	  status=$$?; rm -rf $$tmp; exit $$status

## Benchmarks: figures go to stdout and BENCHMARKS.md (the growth plot to BENCHMARKS-growth.png).
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
