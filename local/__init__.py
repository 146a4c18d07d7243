"""The local stack: an AEP emulator, moto-backed AWS, and moto's Step Functions interpreter
running the real statemachine/*.asl.json with each Lambda task dispatched in-process to
the handler template.yaml names. No AWS account, no AEP org, no Docker."""

import sys as _sys
from pathlib import Path as _Path

# The layer's package `aepflow` is what every function imports (/opt/python in Lambda); here it
# comes from the repo, so `python -m local ...` needs no PYTHONPATH.
_LAYER = str(_Path(__file__).resolve().parent.parent / "layers" / "aepflow")
if _LAYER not in _sys.path:
    _sys.path.insert(0, _LAYER)
