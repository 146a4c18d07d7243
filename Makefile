# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/aepflow
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test unit integration lint validate bench clean

$(STAMP): requirements-dev.txt layers/aepflow/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

node_modules/.bin/asl-validator: package.json
	npm install --no-audit --no-fund --silent
	touch $@

demo: $(STAMP)
	$(PY) -m local demo

# Every core (CI has 2); worksteal evens out the long integration tests between workers.
PYTEST_PARALLEL ?= -n auto --dist worksteal

test: lint validate
	$(PY) -m pytest -q $(PYTEST_PARALLEL) tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

# cfn-lint on the SAM template; asl-validator on every state machine definition.
lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

validate: node_modules/.bin/asl-validator
	for f in statemachine/*.asl.json; do node_modules/.bin/asl-validator --json-path "$$f" || exit 1; done

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
