import sys
from pathlib import Path

# Tests import the project as `local.…` from the repo root.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
