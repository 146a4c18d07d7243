"""The layer as SAM builds it (layers/aepflow/Makefile), what it carries and what it leaves out."""

import subprocess
from pathlib import Path


def test_the_layer_build_carries_every_module_the_handlers_import_and_no_requests(tmp_path):
    """The layer's Makefile (SAM's build of it) with pip left out: the aepflow tree it copies is the
    source's, subpackages included (aepflow.monitor), but the command's cli/; and no pin of requests."""
    layer = Path(__file__).resolve().parents[2] / "layers" / "aepflow"
    subprocess.run(["make", "-s", "-C", str(layer), "build-AepflowLayer", f"ARTIFACTS_DIR={tmp_path}", "PIP=true"],
                   check=True, capture_output=True, timeout=60)
    built = {p.relative_to(tmp_path / "python").as_posix() for p in (tmp_path / "python").rglob("*") if p.is_file()}
    source = {p.relative_to(layer).as_posix() for p in (layer / "aepflow").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and "cli" not in p.parts}
    assert built == source and "aepflow/monitor/check.py" in built
    pins = {line.split("==")[0].lower() for line in (layer / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert "requests" not in pins and "urllib3" not in pins
