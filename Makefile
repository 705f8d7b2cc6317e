# ferryman — the two commands that matter: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint types unit chaos bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m ferryman.demo examples

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests examples $(wildcard bench)

types: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(VENV)/bin/pytest -q tests/unit

test: lint types
	$(VENV)/bin/pytest -q

# The long chaos suite: $(FERRYMAN_CHAOS_RUNS) seeded fault runs (`make test` runs one);
# FERRYMAN_CHAOS_SEED=N[,M…] replays those seeds instead (docs/chaos.md).
FERRYMAN_CHAOS_RUNS ?= 30
chaos: $(STAMP)
	FERRYMAN_CHAOS_RUNS=$(FERRYMAN_CHAOS_RUNS) $(VENV)/bin/pytest -q -s tests/chaos

bench: $(STAMP)
	@set -e; for b in $(wildcard bench/*.py); do echo "== $$b"; $(PY) $$b --quick; done

clean:
	rm -rf $(VENV) .ferryman .pytest_cache .mypy_cache .ruff_cache
