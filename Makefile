# Relay — every target builds what it needs; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAMVENV := .venv-sam
CHECKOVVENV := .venv-checkov
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1
export AWS_REGION ?= $(AWS_DEFAULT_REGION)

.PHONY: demo serve screenshots test lint typecheck validate checkov pytest browser fuzz bench preview clean

$(VENV)/.ready: layers/core/requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r layers/core/requirements.txt -r requirements-dev.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(SAMVENV)/.ready: requirements-sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install -q --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(CHECKOVVENV)/.ready: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOVVENV)
	$(CHECKOVVENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	touch $@

## make demo: the main job on the embedded local stack (moto + Graph emulator): queue → deliver → DLQ → redrive
demo: $(VENV)/.ready
	$(PY) -m relay local demo

## make serve: the admin API, the console (/console/), the collector and a demo shop on http://localhost:8084
serve: $(VENV)/.ready
	$(PY) -m relay local serve

## make preview: the exact Meta request bodies for every sample event of events/, for every variant
preview: $(VENV)/.ready
	@for v in default retail travel b2b_saas; do \
	  echo "=== variant $$v: events/$$v.json"; \
	  $(PY) -m relay preview --variant $$v --now 2026-11-26T13:00:00Z events/$$v.json || exit 1; \
	done

## make test: lint, format check, types, template validation, template security scan, tests
test: lint typecheck validate checkov pytest

lint: $(VENV)/.ready
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.ready
	$(VENV)/bin/mypy

validate: $(SAMVENV)/.ready
	$(SAMVENV)/bin/sam validate --lint --template template.yaml

# Any finding fails the build; a finding the template answers by design is skipped on its resource
# (Metadata: checkov: skip, with the reason). Offline: --skip-download fetches no policies or guidelines.
# checkov exits 0 on a template it cannot parse (it only counts "Parsing errors"), so that fails here.
checkov: $(CHECKOVVENV)/.ready
	@report=$$($(CHECKOVVENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
	  --file template.yaml 2>&1); status=$$?; printf '%s\n' "$$report"; \
	if grep -q 'Parsing errors' <<< "$$report"; then echo 'checkov could not parse template.yaml' >&2; exit 1; fi; \
	exit $$status

## make browser: headless Chromium and its driver from Debian (tests/integration/test_browser.py drives them)
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
# Root installs directly; anyone else through sudo when it exists (else apt-get fails, saying why).
SUDO := $(shell [ "$$(id -u)" = 0 ] || ! command -v sudo >/dev/null 2>&1 || echo sudo)

browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  echo "installing chromium and chromium-driver (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver; \
	fi
	@test -x $(CHROMIUM) && test -x $(CHROMEDRIVER)

## tests/js/node_modules: Segment's Node client for tests/integration/test_segment_clients.py (npm, pinned)
NODEMODULES := tests/js/node_modules/.ready
$(NODEMODULES): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

pytest: $(VENV)/.ready browser $(NODEMODULES)
	$(VENV)/bin/pytest

## make screenshots: the console suite in headless Chromium, its page screenshots copied to docs/console/
screenshots: $(VENV)/.ready browser $(NODEMODULES)
	RELAY_SCREENSHOTS_DIR=$(CURDIR)/docs/console $(VENV)/bin/pytest -p no:cacheprovider -q tests/integration/test_console.py

## make fuzz: the envelope fuzz tests with many more examples than make test runs (RELAY_FUZZ_EXAMPLES)
fuzz: $(VENV)/.ready
	RELAY_FUZZ_EXAMPLES=$${RELAY_FUZZ_EXAMPLES:-5000} $(VENV)/bin/pytest -p no:cacheprovider tests/unit/test_fuzz_envelope.py

## make bench: benchmarks (never part of make test); figures go to docs/benchmarks.md
bench: $(VENV)/.ready
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(SAMVENV) $(CHECKOVVENV) tests/js/node_modules .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
