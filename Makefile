# Two set-up commands for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test faults lint bench up clean lock browser

# requirements.lock pins every package to the version the tests passed with.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements.lock $(VENV)/.installed
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

# Upgrading is a deliberate commit: resolve afresh from pyproject's ranges in a scratch
# venv, run every test there (integration included), then pin what passed.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e ".[dev]"
	.venv-lock/bin/pytest -q
	{ sed -n 1,2p requirements.lock; .venv-lock/bin/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .venv-lock

demo: $(VENV)/.installed
	$(BIN)/retention demo

up: $(VENV)/.installed
	$(BIN)/retention up

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# The report's browser test (tests/report/test_browser.py) loads the page in Debian's
# headless Chromium; CI runs as root on Debian, so this installs it on a fresh machine.
browser:
	command -v chromium >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: $(VENV)/.installed-dev browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

# The fault matrix (tests/faults): each fault on the embedded backends, one row each, the
# table printed at the end (README "Reliability"); ~6 minutes, so not part of `make test`.
faults: $(VENV)/.installed-dev
	$(BIN)/pytest -q -p no:cacheprovider -m faults tests/faults

# The Quix Streams peer of bench/throughput.py has an environment of its own: Quix Streams
# 3.28 pins pydantic < 2.14 and pydantic-settings < 2.16, below this project's.
.venv-peer/.installed: bench/peer-requirements.lock
	$(PYTHON) -m venv .venv-peer
	.venv-peer/bin/pip install --quiet -r bench/peer-requirements.lock
	touch $@

# Latency, throughput side by side with Quix Streams, two workers vs one, scale, KPIs
# (README "Performance").
bench: $(VENV)/.installed-dev .venv-peer/.installed
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.two_workers
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.kpis

clean:
	rm -rf $(VENV) .venv-peer var .pytest_cache .ruff_cache
