# Two commands for a newcomer: `make demo` (the local demo on the emulators) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: all deps browser test lint typecheck pytest up demo bench fuzz clean

all: test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins packages pytest cannot share, so it gets a virtualenv of its own (tests/infra use it).
$(VENV)/checkov/.installed: tests/infra/requirements-checkov.txt $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet -r tests/infra/requirements-checkov.txt
	touch $@

deps: $(VENV)/.installed node_modules/.installed $(VENV)/checkov/.installed

# The console's browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps
	$(VENV)/bin/mypy

pytest: deps browser
	$(PY) -m pytest -q $(ARGS) || [ $$? -eq 5 ]  # 5: no tests collected

# The README's test command.
test: lint typecheck pytest

# Local platform: Azurite, both emulators and the local Functions host, until Ctrl-C.
up: deps
	$(PY) -m devstack up $(ARGS)

# The main job: the whole round trip on the emulators, printed as a table.
demo: deps
	$(PY) -m devstack demo $(ARGS)

# Figures, never asserted: per-stage lifecycle calls, bursts, cancel, idle, a 1,000 backlog, memory, limiter
# overhead, latency, cold start; ends with `key: value` lines. `ARGS=--full` adds the 10,000 backlog;
# `ARGS="--only lifecycle,cold-start"` picks parts; `python -m devstack.bench --help` lists the rest.
bench: deps
	$(PY) -m devstack.bench $(ARGS)

# Hypothesis fuzz of both webhooks at the full budget (CI's pytest runs 2,000 examples of each).
FUZZ_EXAMPLES ?= 10000
fuzz: $(VENV)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider --timeout=1800 \
		--hypothesis-show-statistics -W ignore::hypothesis.errors.HypothesisWarning \
		tests/unit/entrypoints/test_webhook_fuzz.py

clean:
	rm -rf $(VENV) node_modules .azurite .devstack .pytest_cache .mypy_cache .ruff_cache

# Chaos suite (issue 10): invoices under seeded faults, host kills and two hosts; ends with one `chaos:` line.
# `make chaos` is the bounded CI size; `make chaos N=1000` (or `make chaos-full`) the full run.
N ?= 100
CHAOS_SEED ?= 10
.PHONY: chaos chaos-full

chaos: deps
	$(PY) -m devstack.chaos --invoices $(N) --seed $(CHAOS_SEED) $(ARGS)

chaos-full: deps
	$(PY) -m devstack.chaos --invoices 1000 --seed $(CHAOS_SEED) --timeout 1800 $(ARGS)
