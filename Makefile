# promspec: `make generate` compiles specs/ into out/, `make test` proves it.
# Both set up everything on a fresh machine: a virtualenv with the package, and
# promtool/prometheus from Debian's `prometheus` package when missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPECS ?= specs
OUT ?= out
# Extra flags for generate and check, the same for both, e.g.
# PROMSPEC_FLAGS = --format prometheus,operator,alertmanager --namespace monitoring
PROMSPEC_FLAGS ?=

.PHONY: generate test lint typecheck unit check bench setup test-setup tools test-tools bytecode clean help

help:
	@echo "make generate   compile $(SPECS)/ into $(OUT)/ (sets everything up first)"
	@echo "make test       lint, type-check and run the test suite"
	@echo "make check      exit 1 if $(OUT)/ is stale against $(SPECS)/"
	@echo "make bench      run the benchmarks under bench/ (slow; not part of test)"

generate: setup
	$(BIN)/promspec generate $(SPECS) --out $(OUT) $(PROMSPEC_FLAGS)

check: setup
	$(BIN)/promspec check $(SPECS) --out $(OUT) $(PROMSPEC_FLAGS)

test: test-setup lint typecheck unit

lint: setup
	$(BIN)/ruff check generator tests bench
	$(BIN)/ruff format --check generator tests bench

typecheck: setup
	$(BIN)/mypy

# Test processes: one per core by default. The suite is mostly single-threaded Python
# beside one long promtool proof; a worker per core keeps both cores of CI busy.
PYTEST_WORKERS ?= auto

unit: test-setup
	$(BIN)/pytest -n $(PYTEST_WORKERS)

bench: test-setup
	@if [ -d bench ]; then for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done; \
	else echo "no benchmarks yet"; fi

setup: $(VENV)/.installed tools bytecode

# The tests also start a Prometheus and run amtool.
test-setup: $(VENV)/.installed test-tools bytecode

# Bytecode of promspec's own modules, as a wheel install writes it: the editable install
# does not, and with PYTHONDONTWRITEBYTECODE (set on our build machines) every run would
# compile them again, ~0.2 s each. Only what changed is compiled.
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q generator

# Reinstall when the package metadata changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "promspec needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

tools:
	@scripts/ensure-prometheus.sh

test-tools:
	@scripts/ensure-prometheus.sh --for-tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
