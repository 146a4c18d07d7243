"""docs/architecture.md's diagrams, made from the code: the layer's packages and what each imports
(grimp's import graph of layers/aepflow/aepflow, imports inside functions included), and the
provisioning state machine (statemachine/provision_dataflow.asl.json). Mermaid, which the code host
renders.

    python docs/diagrams.py            # print both blocks
    python docs/diagrams.py --check    # exit 1 when docs/architecture.md's blocks are not what the code says
    python docs/diagrams.py --write    # put them in docs/architecture.md

tests/unit/test_architecture.py runs the check, so the pictures cannot drift from the code."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
ASL = ROOT / "statemachine" / "provision_dataflow.asl.json"
# The layer's packages, top (the doors) to bottom (core); a package imports only packages below it
# (.importlinter holds the code to it; ops and monitor are siblings, as are aep, store and s3).
LAYERS = [("doors",), ("ops", "monitor"), ("steps",), ("aep", "store", "s3"), ("spec",), ("core",)]
ROLE = {"doors": "the API, the bucket intake, the aepflow command",
        "ops": "plan, apply, drift, adopt, rotation, runs, start, delete",
        "monitor": "the run monitor's poll",
        "steps": "the provisioning state machine's steps",
        "aep": "AEP's APIs: client, IMS, resources, live reads",
        "store": "every DynamoDB item, one key layout",
        "s3": "source buckets' policies for Adobe's IAM role",
        "spec": "the dataflow spec, connectors, XDM",
        "core": "settings, AWS clients, errors, logs"}
ROLL_BACK = "Roll back what this execution created"


def package_edges() -> list[tuple[str, str]]:
    """(package, package it imports), for every import between the layer's packages."""
    import grimp

    sys.path.insert(0, str(ROOT / "layers" / "aepflow"))
    graph = grimp.build_graph("aepflow", include_external_packages=False)
    edges: set[tuple[str, str]] = set()
    for module in graph.modules:
        source = module.split(".")
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")
            if len(source) > 1 and len(target) > 1 and source[1] != target[1]:
                edges.add((source[1], target[1]))
    return sorted(edges)


def packages_block() -> str:
    lines = ["flowchart TD"]
    for layer in LAYERS:
        for package in layer:
            lines.append(f'  {package}["<b>{package}/</b><br/>{ROLE[package]}"]')
    lines += [f"  {a} --> {b}" for a, b in package_edges()]
    return "\n".join(lines)


class _StateChart:
    """A Mermaid flowchart of an ASL definition: a node per state (a rhombus for a Choice), a
    subgraph per Parallel with one per branch, dotted edges for a Catch."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.catch_all: list[str] = []

    def number(self, states: dict[str, Any]) -> None:
        """Ids in the order the states are written (nested branches in place)."""
        for name, state in states.items():
            self.node(name)
            for branch in state.get("Branches", []):
                self.number(branch["States"])

    def node(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = f"s{len(self.ids)}"
        return self.ids[name]

    @staticmethod
    def label(name: str) -> str:
        return name.replace('"', "'")

    def states(self, states: dict[str, Any], indent: str) -> None:
        for name, state in states.items():
            nid = self.node(name)
            if state["Type"] == "Parallel":
                self.lines.append(f'{indent}subgraph {nid}["{self.label(name)}"]')
                self.lines.append(f"{indent}  direction TB")
                for number, branch in enumerate(state["Branches"]):
                    self.lines.append(f'{indent}  subgraph {nid}b{number}[" "]')
                    self.states(branch["States"], indent + "    ")
                    self.lines.append(f"{indent}  end")
                self.lines.append(f"{indent}end")
            elif state["Type"] == "Choice":
                self.lines.append(f'{indent}{nid}{{"{self.label(name)}"}}')
            elif state["Type"] in ("Succeed", "Fail"):
                self.lines.append(f'{indent}{nid}(["{self.label(name)}"])')
            else:
                self.lines.append(f'{indent}{nid}["{self.label(name)}"]')
            self.transitions(name, state)

    def transitions(self, name: str, state: dict[str, Any]) -> None:
        nid = self.node(name)
        targets = [choice["Next"] for choice in state.get("Choices", [])]
        targets += [state[key] for key in ("Default", "Next") if key in state]
        for target in dict.fromkeys(targets):
            self.edges.append(f"  {nid} --> {self.node(target)}")
        for catch in state.get("Catch", []):
            if catch["Next"] == ROLL_BACK:
                self.catch_all.append(name)
            else:
                self.edges.append(f"  {nid} -. error .-> {self.node(catch['Next'])}")


def state_machine_block(definition: dict[str, Any] | None = None) -> str:
    definition = definition or json.loads(ASL.read_text())
    chart = _StateChart()
    chart.number(definition["States"])
    start = chart.node(definition["StartAt"])
    chart.states(definition["States"], "  ")
    lines = ["flowchart TD", *chart.lines, *chart.edges]
    if chart.catch_all:
        # One dotted edge from each state that rolls back on error, to keep the picture readable.
        lines += [f"  {chart.node(name)} -. error .-> {chart.node(ROLL_BACK)}" for name in chart.catch_all]
    lines.append(f"  classDef start stroke-width:3px\n  class {start} start")
    return "\n".join(lines)


BLOCKS = {"packages": packages_block, "state-machine": state_machine_block}


def _marked(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- diagram:{name} -->\n```mermaid\n)(.*?)(\n```\n<!-- /diagram:{name} -->)", re.S)


def doc_blocks(text: str) -> dict[str, str | None]:
    found = {}
    for name in BLOCKS:
        match = _marked(name).search(text)
        found[name] = match.group(2) if match else None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/architecture.md's diagrams differ")
    parser.add_argument("--write", action="store_true", help="write the diagrams into docs/architecture.md")
    args = parser.parse_args(argv)
    made = {name: make() for name, make in BLOCKS.items()}
    text = DOC.read_text()
    if args.write:
        for name, block in made.items():
            text, count = _marked(name).subn(lambda m, b=block: m.group(1) + b + m.group(3), text)
            if count != 1:
                sys.stderr.write(f"{DOC.relative_to(ROOT)} has no <!-- diagram:{name} --> block to write into\n")
                return 1
        DOC.write_text(text)
        return 0
    if args.check:
        stale = [name for name, block in doc_blocks(text).items() if block != made[name]]
        for name in stale:
            sys.stderr.write(f"{DOC.relative_to(ROOT)}'s {name} diagram is not what the code says: "
                             "python docs/diagrams.py --write\n")
        return 1 if stale else 0
    for name, block in made.items():
        print(f"<!-- diagram:{name} -->\n```mermaid\n{block}\n```\n<!-- /diagram:{name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
