"""schemathesis against `python -m local serve`: the committed OpenAPI document
(functions/api/openapi.json) is held against the running local stack's API, signed as API
Gateway wants (hooks.py), with the checks configured in schemathesis.toml. Exits with
schemathesis' own status: 0 when it found nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main(argv: list[str]) -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "aepflow")]
    from local.serve import Server

    st = Path(sys.executable).with_name("st")
    with Server() as server:
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks",
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "aepflow")])}
        command = [str(st), "--config-file", str(HERE / "schemathesis.toml"), "run",
                   str(ROOT / "functions" / "api" / "openapi.json"), "--url", server.info["api"], *argv]
        return subprocess.run(command, cwd=ROOT, env=env, timeout=600, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
