# Lantern: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= .lantern/demo-data
DEMO_RECORDS ?= 5000
DEMO_SEED ?= 42
# Crime reports given a statement (and every other one a scanned notebook page) in the demo.
DEMO_DOCUMENTS ?= 24
NER_PROCESSES ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: demo test install system-deps launcher lint vendor opensearch-start opensearch-stop \
        demo-data tika bench-docs eval-ner eval-search eval-persons bench-ner bench-index bench-search bench-chart \
        bench-alerts bench-backup bench-scale bench-persons clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages: chromium for the Playwright browser tests (no browser download at run time);
# Tesseract (+English), ocrmypdf and poppler-utils for documents (OCR, page images);
# nginx for the two-process topology test (tests/analyst/test_topology.py).
SYSTEM_PACKAGES := chromium tesseract-ocr tesseract-ocr-eng ocrmypdf poppler-utils nginx
system-deps:
	@missing=""; \
	for pair in chromium:/usr/bin/chromium tesseract-ocr:/usr/bin/tesseract \
	            tesseract-ocr-eng:/usr/share/tesseract-ocr/5/tessdata/eng.traineddata \
	            ocrmypdf:/usr/bin/ocrmypdf poppler-utils:/usr/bin/pdftoppm nginx:/usr/sbin/nginx; do \
	  [ -e "$${pair#*:}" ] || missing="$$missing $${pair%%:*}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The Tika worker (launcher/tika): tika-app from Maven Central, compiled once.
tika: $(STAMP)
	$(BIN)/python -c "from documents.tika import build_tika; build_tika()"

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

# Two pytest-xdist workers (the machines have 2 cores; much of a test's time is waiting on
# OpenSearch): a module's tests stay together, so its module-scoped world is built once
# (tests/conftest.py). PYTEST_XDIST= runs serially.
PYTEST_XDIST ?= -n 2 --dist loadscope
# The test suite starts its own embedded OpenSearch on separate ports (see tests/conftest.py)
# and stops it at the end; a running demo node is left alone.
# The layering and the types are checked first: a violation fails the run before pytest.
# The node starts in the background meanwhile (mypy takes one core, a starting JVM mostly the
# other; tests/node.py): the run id marks it as this run's, so pytest stops it at the end.
test: $(STAMP) system-deps launcher tika
	$(BIN)/lint-imports
	@export LANTERN_TEST_RUN_ID=$$($(BIN)/python -c 'import uuid; print(uuid.uuid4().hex)'); \
	mkdir -p .lantern; \
	$(BIN)/python -m tests.node start > .lantern/test-node-start.log 2>&1 & node=$$!; \
	trap '$(BIN)/python -m tests.node stop; exit 130' INT TERM; \
	status=0; $(BIN)/mypy || status=$$?; \
	wait $$node || { echo "test node start failed (pytest tries again):"; tail -20 .lantern/test-node-start.log; }; \
	if [ $$status -ne 0 ]; then $(BIN)/python -m tests.node stop; exit $$status; fi; \
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_XDIST) $(PYTEST_ARGS)

demo-data: $(STAMP)
	$(BIN)/lantern demo-data --out $(DEMO_DIR) --records $(DEMO_RECORDS) --seed $(DEMO_SEED)

DEMO_GAZETTEER ?= .lantern/demo-gazetteer-SYNTHETIC.csv
demo: $(STAMP) system-deps tika opensearch-start demo-data
	$(BIN)/lantern index init
	# Made-up coordinates for the demo's made-up postcodes (a few held back on purpose), loaded
	# before the records so they get their places; a force loads the ONS Postcode Directory instead.
	$(BIN)/lantern demo-gazetteer --feeds $(DEMO_DIR) --out $(DEMO_GAZETTEER) --seed $(DEMO_SEED)
	$(BIN)/lantern gazetteer load $(DEMO_GAZETTEER)
	$(BIN)/lantern demo-documents --feeds $(DEMO_DIR) --count $(DEMO_DOCUMENTS) --seed $(DEMO_SEED)
	# Case papers arrive as a manifest: linked first, indexed with their records by the load.
	$(BIN)/lantern documents load .lantern/attachments/demo-case-papers/manifest.csv
	# Resolution's DuckDB on its default one thread: an ingest batch's statements are small,
	# and a second thread measured the same or slower (README, session 12).
	LANTERN_NER_PROCESSES=$(NER_PROCESSES) $(BIN)/lantern index load $(DEMO_DIR)/*
	$(BIN)/lantern users demo
	# The worker runs background jobs (batch searches); it stops with the portal.
	$(BIN)/lantern worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/lantern serve

# htmx, cytoscape, cytoscape-fcose (with its layout-base/cose-base), vis-timeline, Leaflet and Swagger UI are
# vendored (committed) from the npm packages pinned in package.json; rerun to update. Swagger UI
# serves /api/docs from the portal itself (no CDN).
vendor:
	npm install --no-audit --no-fund
	cp node_modules/htmx.org/dist/htmx.min.js portal/static/vendor/htmx.min.js
	cp node_modules/cytoscape/dist/cytoscape.min.js portal/static/vendor/cytoscape.min.js
	cp node_modules/cytoscape/LICENSE portal/static/vendor/cytoscape.LICENSE
	cp node_modules/layout-base/layout-base.js portal/static/vendor/layout-base.js
	cp node_modules/cose-base/cose-base.js portal/static/vendor/cose-base.js
	cp node_modules/cytoscape-fcose/cytoscape-fcose.js portal/static/vendor/cytoscape-fcose.js
	cp node_modules/cytoscape-fcose/LICENSE portal/static/vendor/cytoscape-fcose.LICENSE
	# The "peer" build: the standalone one injects a <style> element, which the CSP blocks.
	cp node_modules/vis-timeline/peer/umd/vis-timeline-graph2d.min.js portal/static/vendor/vis-timeline-graph2d.min.js
	cp node_modules/vis-data/standalone/umd/vis-data.min.js portal/static/vendor/vis-data.min.js
	cp node_modules/moment/min/moment.min.js portal/static/vendor/moment.min.js
	cp node_modules/moment/LICENSE portal/static/vendor/moment.LICENSE
	cp node_modules/vis-timeline/styles/vis-timeline-graph2d.min.css portal/static/vendor/vis-timeline-graph2d.min.css
	cp node_modules/vis-timeline/LICENSE.md portal/static/vendor/vis-timeline.LICENSE.md
	mkdir -p portal/static/vendor/leaflet
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE portal/static/vendor/leaflet/
	cp -r node_modules/leaflet/dist/images portal/static/vendor/leaflet/
	mkdir -p portal/static/vendor/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/LICENSE portal/static/vendor/swagger-ui/
	# axe-core goes under tests/ only: Playwright injects it into pages under test; it is never served.
	mkdir -p tests/browser/vendor
	cp node_modules/axe-core/axe.min.js tests/browser/vendor/axe.min.js

eval-ner: $(STAMP)
	$(BIN)/python scripts/eval_ner.py

# Judged search queries over the seeded demo data against a running node (loads the data into
# its own index prefix once, then reuses it); exits 1 below 0.95 per kind on the held-out half.
eval-search: $(STAMP) opensearch-start
	$(BIN)/python scripts/eval_search.py

# Person resolution: pairwise precision/recall on labelled synthetic people (tuning and held-out
# splits); exits non-zero when the held-out split misses P >= 0.99 or R >= 0.95.
eval-persons: $(STAMP)
	$(BIN)/python scripts/eval_persons.py

# Full resolution time and peak memory per size; then the incremental cost, interleaved per load
# batch with entity extraction (exits 1 at or over 10%).
# PERSONS_SIZES=10000,100000,1000000 for the full set (1M: blocks crowded by more than 100 people are split or capped, persons/blocking.py; figures in README).
PERSONS_SIZES ?= 10000,100000
PERSONS_HELD ?= 100000
bench-persons: $(STAMP) opensearch-start
	LANTERN_NER_PROCESSES=$(NER_PROCESSES) $(BIN)/python scripts/bench_persons.py --sizes $(PERSONS_SIZES) --held $(PERSONS_HELD)

bench-ner: $(STAMP)
	$(BIN)/python scripts/bench_ner.py

bench-index: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_index.py

# Then this code against the code before issue 11 (a git worktree of the base commit),
# interleaved per query; exits 1 when a query kind's p95 is over 1.2x its p95 before.
# Both halves always run (the comparison too when the first misses); exit 1 if either missed.
bench-search: $(STAMP) opensearch-start
	status=0; \
	$(BIN)/python scripts/bench_search.py || status=1; \
	$(BIN)/python scripts/bench_search_compare.py || status=1; \
	exit $$status

# Link chart: expansion p95/size for hubs of 50/500/5,000 records, 4-hop paths p95 (BENCH_CHART_ARGS=--records N);
# expansions and paths also side by side with the chart code at BENCH_CHART_BASE, interleaved: by default
# the first commit with nominals as person nodes, before the speed work (older code cannot read nominal ids).
BENCH_CHART_BASE ?= c569919
bench-chart: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_chart.py --compare $(BENCH_CHART_BASE) $(BENCH_CHART_ARGS)

bench-alerts: $(STAMP) opensearch-start
	$(BIN)/python scripts/bench_alerts.py

# Backup of every Lantern index and restore into an empty second node (private ports 9290/9292).
bench-backup: $(STAMP) launcher
	$(BIN)/python scripts/bench_backup.py $(BENCH_BACKUP_ARGS)

# Pages/s for text-layer and scanned PDFs against Tika and Tesseract run on their own.
bench-docs: $(STAMP) system-deps tika
	$(BIN)/python scripts/bench_docs.py

bench-scale: $(STAMP)
	$(BIN)/python scripts/bench_scale.py

clean:
	-$(BIN)/lantern opensearch stop
	rm -rf .lantern launcher/target launcher/tika/target
