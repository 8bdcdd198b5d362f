# The front door: every habit is one command.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install serve test check bench clean browser vendor

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
test: install browser
	$(BIN)/pytest -q $(PYTEST_ARGS)

## The workbench's browser tests drive Debian's chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser tests will fail under CI=true, else skip"; }

## Refresh the vendored browser code of the workbench (htmx, SortableJS) at the versions pinned in the script.
vendor:
	bash scripts/vendor_web_assets.sh

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
