"""The layer as SAM builds it (layers/aepflow/Makefile), what it carries and what it leaves out."""

import re
import subprocess
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "aepflow"


def _build(tmp_path: Path) -> Path:
    """The layer's Makefile with pip left out: the aepflow tree and its bytecode."""
    subprocess.run(["make", "-s", "-C", str(LAYER), "build-AepflowLayer", f"ARTIFACTS_DIR={tmp_path}", "PIP=true"],
                   check=True, capture_output=True, timeout=60)
    return tmp_path / "python"


def test_the_layer_build_carries_every_module_the_handlers_import_and_no_requests(tmp_path):
    """The aepflow tree it copies is the source's, subpackages included (aepflow.monitor), but the
    command's cli/; and no pin of requests."""
    site = _build(tmp_path)
    built = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    source = {p.relative_to(LAYER).as_posix() for p in (LAYER / "aepflow").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and "cli" not in p.parts}
    assert built == source and "aepflow/monitor/check.py" in built
    pins = {line.split("==")[0].lower() for line in (LAYER / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert "requests" not in pins and "urllib3" not in pins


def test_the_layer_ships_python_3_12_bytecode_that_lambda_uses_as_it_is(tmp_path):
    """Lambda's /opt is read-only: a module without its .pyc is compiled on every cold start. Every
    module of the layer has the runtime's (cpython-312) bytecode beside it, unchecked-hash (flags 1
    in the header), so it is used whatever the zip did to the sources' mtimes."""
    site = _build(tmp_path)
    modules = sorted(site.rglob("*.py"))
    assert modules
    for module in modules:
        pyc = module.parent / "__pycache__" / f"{module.stem}.cpython-312.pyc"
        assert pyc.is_file(), f"{module.relative_to(site)} has no cpython-312 bytecode"
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 1, f"{pyc.relative_to(site)}: flags {flags}, not unchecked-hash"
    assert not list(site.rglob("*.cpython-311.pyc"))


def test_aepflow_uses_nothing_the_layer_leaves_out():
    """The layer's Makefile leaves out Powertools' Swagger UI assets (read only by enable_swagger
    without a swagger_base_url) and pydantic's v1 API: no module of aepflow's may need them."""
    makefile = (LAYER / "Makefile").read_text()
    assert "swagger-ui-bundle.min.js" in makefile and "pydantic/v1" in makefile
    unused = re.search(r"^UNUSED_UTILITIES := (.+)$", makefile, re.M).group(1).split()
    assert {"kafka", "data_masking", "batch"} <= set(unused)
    for module in (LAYER / "aepflow").rglob("*.py"):
        text = module.read_text()
        assert "enable_swagger" not in text and "pydantic.v1" not in text and "pydantic import v1" not in text, module
        assert not [u for u in unused if f"utilities.{u}" in text or f"utilities import {u}" in text], module
