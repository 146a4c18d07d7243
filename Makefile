# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHECKOV := $(VENV)/checkov
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/aepflow
# Bytecode is kept in .venv, not beside the sources, and written there even where the environment
# says not to (this project's machines set PYTHONDONTWRITEBYTECODE=1): a cache prefix that is never
# written is one no process finds anything in, so each of the suite's processes (workers, the
# command-line tests' subprocesses, the tool checks) compiled every module it imported again.
# `python -m local provision` of one example: 6.0-7.2 s that way, 4.4-4.7 s with the cache written.
export PYTHONPYCACHEPREFIX := $(CURDIR)/.venv/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test fuzz tools unit integration lint checkov validate api-contract sam-check ruff typecheck import-contracts deploy e2e bench clean

# The SAM CLI is pinned in requirements-dev.txt; the layer builds with python3.12 (pyenv's).
SAM := $(VENV)/bin/sam
STACK ?= aepflow
export SAM_CLI_TELEMETRY := 0
export PYENV_VERSION ?= 3.11.7:3.12.1

$(STAMP): requirements-dev.txt requirements-runtime.txt layers/aepflow/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The aepflow command (.venv/bin/aepflow), from the layer's own package.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# checkov pins its own boto3, so it gets a venv of its own.
$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.bin/asl-validator: package.json
	npm install --no-audit --no-fund --silent
	touch $@

demo: $(STAMP)
	$(PY) -m local demo

# Every core (CI has 2); worksteal evens out the long integration tests between workers.
PYTEST_PARALLEL ?= -n auto --dist worksteal

# The three installs side by side, then the tool checks side by side (each is one process on one
# core; -O keeps each one's output together), then the tests on every core.
test:
	$(MAKE) -j3 --no-print-directory $(STAMP) $(CHECKOV)/.installed node_modules/.bin/asl-validator
	$(MAKE) -j3 -O --no-print-directory tools
	$(PY) -m pytest -q $(PYTEST_PARALLEL) --ignore=$(DOCS_COMMANDS) tests

# `sam validate --lint` runs cfn-lint on the template (`make lint` runs it alone).
tools: checkov validate api-contract sam-check ruff typecheck import-contracts docs-commands

# The docs' runnable blocks, run as a reader runs them (bash, python -m local serve, aepflow): each block
# is processes of its own, like schemathesis against a served stack, so it runs beside the other tool
# checks, not in the test suite's workers.
DOCS_COMMANDS = tests/integration/test_docs_commands.py
docs-commands: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider $(DOCS_COMMANDS)

# ruff on every Python file (the rules: pyproject.toml's [tool.ruff]).
ruff: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy on the layer and functions/ (pyproject.toml's [tool.mypy]); its cache stays in .venv.
typecheck: $(STAMP)
	$(VENV)/bin/mypy --cache-dir $(VENV)/mypy-cache

# import-linter: the layer's packages import only those below them, never local/ (.importlinter).
import-contracts: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

# schemathesis holds functions/api/openapi.json against `python -m local serve`.
api-contract: $(STAMP)
	$(PY) tests/schemathesis/run.py

# The property and stateful tests with many more draws than `make test` makes (FUZZ_EXAMPLES specs;
# a fifth as many sequences of the doors), each draw's shape and time printed, a failure shrunk to
# its smallest form. No per-test time bound: it runs as long as its draws take.
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s --timeout=0 -p no:cacheprovider \
	  tests/integration/test_properties.py tests/integration/test_doors_stateful.py

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

# cfn-lint on the SAM template; asl-validator on every state machine definition.
lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

# checkov on template.yaml; what it skips, and why, is in .checkov.yaml.
checkov: $(CHECKOV)/.installed
	PYTHONPATH= $(CHECKOV)/bin/checkov --config-file .checkov.yaml

validate: node_modules/.bin/asl-validator
	for f in statemachine/*.asl.json; do node_modules/.bin/asl-validator --json-path "$$f" || exit 1; done

# sam validate --lint and sam build, as a deploy would run them (nothing leaves the machine).
sam-check: $(STAMP)
	$(SAM) validate --lint
	$(SAM) build

# sam build, then sam deploy: --guided the first time (no stack $(STACK) yet), then with the
# answers the guided run saved in samconfig.toml.
deploy: $(STAMP)
	$(SAM) build
	if $(SAM) list stack-outputs --stack-name $(STACK) >/dev/null 2>&1; then \
	  $(SAM) deploy --stack-name $(STACK); else $(SAM) deploy --guided --stack-name $(STACK); fi

# The opt-in end-to-end suite against a deployed stack, named on the command line (STACK's default is
# deploy's, not a stack to test): it provisions one spec in the stack's AEP org and deletes it
# (docs/e2e.md). Without STACK=name it only says how to run it.
e2e:
ifneq ($(and $(filter command line,$(origin STACK)),$(STACK)),)
	$(MAKE) --no-print-directory $(STAMP)
	AEPFLOW_E2E_STACK='$(STACK)' $(PY) -m pytest -q -rs -p no:cacheprovider --timeout=2400 tests/e2e
else
	@echo "e2e: skipped: name the deployed stack to test: make e2e STACK=<stack name> (docs/e2e.md)"
endif

# The Lambda runtime's stand-in for bench/coldstart.py: python3.12 with boto3 and botocore alone,
# compiled in place as the runtime ships them (the layer it imports the handlers from is built by
# the bench).
RUNTIME := $(VENV)/runtime
$(RUNTIME)/.installed: requirements-runtime.txt
	python3.12 -m venv $(RUNTIME)
	env -u PYTHONPATH -u PYTHONPYCACHEPREFIX $(RUNTIME)/bin/pip install --quiet --disable-pip-version-check -r requirements-runtime.txt
	touch $@

bench: $(STAMP) $(RUNTIME)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
