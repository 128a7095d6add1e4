# Lantern: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= .lantern/demo-data
DEMO_RECORDS ?= 5000
DEMO_SEED ?= 42
NER_PROCESSES ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: demo test install system-deps launcher lint vendor opensearch-start opensearch-stop \
        demo-data eval-ner bench-ner bench-index bench-search bench-alerts bench-scale clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the Playwright browser tests (no browser download at run time).
# nginx for the two-process topology test (tests/analyst/test_topology.py).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if [ ! -x /usr/sbin/nginx ]; then \
	  echo "installing Debian nginx..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi

launcher: $(STAMP)
	$(BIN)/python -c "from lantern.embedded import build_launcher; build_launcher()"

opensearch-start: launcher
	$(BIN)/lantern opensearch start

opensearch-stop: $(STAMP)
	$(BIN)/lantern opensearch stop

# Static checks: ruff, the format, the package layers (import-linter, pyproject.toml) and
# mypy (strict on the packages; tests and scripts type-checked too, see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The test suite starts its own embedded OpenSearch on separate ports (see tests/conftest.py)
# and stops it at the end; a running demo node is left alone.
# The layering and the types are checked first: a violation fails the run before pytest.
test: $(STAMP) system-deps launcher
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

demo-data: $(STAMP)
	$(BIN)/lantern demo-data --out $(DEMO_DIR) --records $(DEMO_RECORDS) --seed $(DEMO_SEED)

demo: $(STAMP) opensearch-start demo-data
	$(BIN)/lantern index init
	LANTERN_NER_PROCESSES=$(NER_PROCESSES) $(BIN)/lantern index load $(DEMO_DIR)/*
	$(BIN)/lantern users demo
	# The worker runs background jobs (batch searches); it stops with the portal.
	$(BIN)/lantern worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/lantern serve

# htmx is vendored (committed) from the npm package pinned in package.json; rerun to update.
vendor:
	npm install --no-audit --no-fund
	cp node_modules/htmx.org/dist/htmx.min.js portal/static/vendor/htmx.min.js

eval-ner: $(STAMP)
	$(BIN)/python scripts/eval_ner.py

bench-ner: $(STAMP)
	$(BIN)/python scripts/bench_ner.py

bench-index: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_index.py

bench-search: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_search.py

bench-alerts: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_alerts.py

bench-scale: $(STAMP)
	$(BIN)/python scripts/bench_scale.py

clean:
	-$(BIN)/lantern opensearch stop
	rm -rf .lantern launcher/target
