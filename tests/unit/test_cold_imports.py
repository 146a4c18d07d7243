"""What a cold start pays at import beyond its modules' own code: no regular expression compiled
for a model's defaults, no full garbage collection walking boto3.

pydantic asks for the signature of every `default_factory` when it builds a model. A builtin's
(`list`, `dict`) is parsed from its text signature by `tokenize`, whose first use compiles its
regular expression of Python's whole token grammar: about 20 ms of every handler's import here,
for a default that pydantic copies per instance anyway (`Field(default=[])`)."""

import os
import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "aepflow"
PROBE = """
import importlib, pkgutil, sys
import aepflow
names = [m.name for m in pkgutil.walk_packages(aepflow.__path__, "aepflow.") if ".cli" not in m.name]
for name in names:
    importlib.import_module(name)
tokenize = sys.modules.get("tokenize")
print(len(names), tokenize._compile.cache_info().currsize if tokenize else 0)
"""


def test_importing_every_module_of_the_layer_never_compiles_tokenize():
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_SERVICE_NAME": "aepflow"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    modules, compiled = map(int, done.stdout.split())
    assert modules > 30 and compiled == 0


FREEZE_PROBE = "import gc, sys\nimport aepflow\nprint(int('boto3' in sys.modules), int(gc.get_freeze_count() > 0))"


def test_in_a_lambda_container_boto3_comes_first_and_is_frozen_out_of_the_collector_and_nowhere_else():
    """aepflow/__init__.py: what boto3 made lives as long as the container, so the full collections
    that building the models sets off do not walk it again; outside Lambda nothing changes."""
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"}
    for extra, expected in (({"AWS_LAMBDA_FUNCTION_NAME": "probe"}, "1 1"), ({}, "0 0")):
        done = subprocess.run([sys.executable, "-c", FREEZE_PROBE], env={**base, **extra}, capture_output=True,
                              text=True, timeout=60, check=True)
        assert done.stdout.split() == expected.split(), extra
