"""The docs' commands run as written: every shell block of README.md and docs/*.md marked runnable
(an HTML comment line `<!-- runnable -->` right before its ```sh fence, invisible where the Markdown
is rendered) is run with bash `set -euo pipefail` from the project's root, with .venv/bin first on
the PATH, the Makefile's PYTHONPATH and a HOME and TMPDIR of its own; it must exit 0, and its output
(stdout and stderr together, as a reader sees them) must hold the text of each of its `# expect: TEXT` lines.
A block that needs a local API starts `python -m local serve` itself and stops it on exit."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- runnable -->"
BLOCK = re.compile(r"^<!-- runnable -->\n```sh\n(.*?)^```$", re.M | re.S)
EXPECT = re.compile(r"^\s*# expect: (.+?)\s*$", re.M)
# A block runs in seconds on the local stack; this bounds a hang (a serve that never answers).
TIMEOUT_SECONDS = 120


def runnable_blocks() -> list[tuple[str, str]]:
    """(an id naming the file and line, the block's text) for every marked block."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def expectations(block: str) -> list[str]:
    return EXPECT.findall(block)


def test_every_runnable_marker_is_right_before_a_sh_block():
    """A marker followed by anything else would be a block silently never run."""
    stray = []
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        stray += [f"{doc.relative_to(ROOT)}:{n + 1}" for n, line in enumerate(lines)
                  if line.strip() == MARKER and (n + 1 >= len(lines) or lines[n + 1] != "```sh")]
    assert stray == []
    assert any(name.startswith("README.md:") for name, _ in runnable_blocks())


def test_the_block_finder_finds_blocks_and_their_expectations():
    """The parametrized test below could pass by finding nothing: here it must find one."""
    text = f"prose\n{MARKER}\n```sh\necho hi\n# expect: hi\n```\n\n```sh\nnot marked\n```\n"
    blocks = [m.group(1) for m in BLOCK.finditer(text)]
    assert blocks == ["echo hi\n# expect: hi\n"]
    assert expectations(blocks[0]) == ["hi"]


def _environment(home: Path) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AEPFLOW_"))}
    env.update(PATH=f"{venv_bin}:{env.get('PATH', '/usr/bin:/bin')}",
               PYTHONPATH=f"{ROOT}:{ROOT / 'layers' / 'aepflow'}",  # what the Makefile exports
               PYTHONPYCACHEPREFIX=str(ROOT / ".venv" / "pycache"),
               HOME=str(home), TMPDIR=str(home))
    return env


def _stop_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # nothing of the block is left running: the usual case


@pytest.mark.parametrize("block", [text for _, text in runnable_blocks()],
                         ids=[name for name, _ in runnable_blocks()])
def test_the_block_runs_as_written(block, tmp_path):
    # A session of its own, so that whatever the block left running (a serve whose trap never ran) is
    # stopped with it.
    process = subprocess.Popen(["bash", "-c", "set -euo pipefail\n" + block], cwd=ROOT, env=_environment(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    finally:
        _stop_group(process.pid)
    assert process.returncode == 0, output
    missing = [text for text in expectations(block) if text not in output]
    assert missing == [], output
