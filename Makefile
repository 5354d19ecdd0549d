# Modelyard developer entry points. Every target that needs Python depends on `install`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MEMBERS := libs/contracts libs/runtime libs/embedded libs/frameworks libs/client services/gateway services/dataset \
	services/scheduler services/trainer services/registry services/distribution \
	services/edge plugins/regress plugins/audio plugins/forecast
STAMP := $(VENV)/.installed

.PHONY: install dev demo demo-regress demo-audio demo-forecast demo-frameworks test lint contracts bench clean

install: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt $(foreach m,$(MEMBERS),$(m)/pyproject.toml)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip==26.3
	$(PIP) install -q -c constraints.txt -r requirements-dev.txt $(foreach m,$(MEMBERS),-e $(m))
	touch $(STAMP)

dev: install  ## start the local stack (Ctrl-C stops everything)
	$(VENV)/bin/modelyard dev up

demo: install  ## start a throw-away stack, walk the thin flow through it, stop
	$(PY) scripts/demo.py

demo-regress demo-audio demo-forecast: demo-%: install  ## one framework plugin end to end, on a throw-away stack
	$(PY) scripts/demo_frameworks.py $*

demo-frameworks: install  ## every framework plugin end to end
	$(PY) scripts/demo_frameworks.py regress audio forecast

test: install
	$(PY) -m pytest -q --durations=15

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs services plugins tests bench scripts conftest.py

contracts: install  ## regenerate proto/ from libs/contracts
	$(PY) -m modelyard.contracts.generate proto

bench: install
	@for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
