"""Vendor XDM's published definitions into one data file: the standard classes and field groups
the emulator's Schema Registry serves, with their fields as the Schema Registry renders them.

    python -m local.emulator.vendor_xdm XDM_GIT_DIR          # (re)write the data file
    python -m local.emulator.vendor_xdm XDM_GIT_DIR --check  # exit 1 when it is stale

XDM_GIT_DIR is a git directory of github.com/adobe/xdm (a bare clone or a snapshot's .git);
the definitions are read from its HEAD with `git ls-tree` / `git cat-file`, nothing is checked
out. The output, layers/aepflow/aepflow/spec/xdm_definitions.json, is committed (CI has no clone):

    {"source": {"repository": "adobe/xdm", "commit": <sha>, "how": <the key conversion>},
     "classes": {<$id>: {"title", "path", "properties": <tree>}},
     "fieldGroups": {<$id>: {"title", "path", "intendedToExtend", "properties": <tree>}}}

A <tree> is the `properties` of the Schema Registry's `application/vnd.adobe.xed-full+json`
answer ("`$ref` and `allOf` resolved", help/xdm/api/schemas.md#lookup): field name -> node, a
node being {type, format?, meta:xdmType, items?, properties?} (a map node also keeps its
`additionalProperties`, the one thing a map's values are described by). Titles, descriptions,
enums and examples are left out to keep the file small.

How the repository's JSON-LD (XDM "Standard Notation") becomes field names: the Schema Registry
shows XDM in "Compatibility Mode" (help/xdm/api/appendix.md#compatibility,
help/xdm/schema/namespaces.md#compatibility, AdobeDocs/experience-platform.en):
- `xdm:` is dropped: `xdm:person` -> `person`, `xdm:birthDate` -> `birthDate`;
- `@id` (JSON-LD's node identifier) -> `_id` (namespaces.md's Compatibility Mode example);
- any other prefix becomes a parent field starting with an underscore: `repo:createDate` ->
  `_repo.createDate` (namespaces.md: "Platform converts the namespace to a parent field
  (starting with an underscore) and nests the fields under it");
- a full namespace URI likewise: `https://ns.adobe.com/xdm/channels/application` ->
  `_channels.application`, `https://ns.adobe.com/vendorA/product/stockNumber` ->
  `_vendorA.product.stockNumber` (namespaces.md);
- `$ref`s (to data types, behaviors, `#/definitions/...`) and `allOf`s are resolved and merged;
  the JSON-LD `@context` plumbing (common/extensible) carries no field and is skipped;
- `meta:xdmType` is the repository's own where it gives one, else derived from the JSON Schema
  type as help/xdm/schema/field-constraints.md tabulates it (string/date/date-time, number,
  byte/short/int/long by an integer's bounds, boolean, object, array, map). An integer without
  bounds is given `long`: no page says, and long is the widest integer XDM has;
- XDM is recursive (a data type may reach itself again through its fields): a `$ref` already on
  the path from the root, or a field deeper than MAX_DEPTH levels, is cut to an object node with
  no properties. The Registry's own rendering of such cycles is not documented.

The result agrees with the resolved output schema Adobe prints for a mapping set
(help/data-prep/api/mapping-set.md, "Look up a mapping set": an Individual Profile schema with
`_id`, `_repo.createDate`, `createdByBatchID`, `personID`, `repositoryCreatedBy`,
`person.name.firstName`, `person.birthYear`), which lists fewer `_repo` fields than XDM's
`repo:` date properties give (`discardDate`, `expires`, ... are kept here, as XDM defines them).

Which definitions: the classes and field groups listed in CLASSES and FIELD_GROUPS below, by
$id (each entry records its repository path). tests/local/test_emulator_xdm.py compares the
committed file with a fresh build when XDM_GIT_DIR is set.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "layers" / "aepflow" / "aepflow" / "spec" / "xdm_definitions.json"
MAX_DEPTH = 8
EXTENSIBLE = "https://ns.adobe.com/xdm/common/extensible"
NS = "https://ns.adobe.com/"

CLASSES = [
    "https://ns.adobe.com/xdm/context/profile",          # XDM Individual Profile (record behavior)
    "https://ns.adobe.com/xdm/context/experienceevent",  # XDM ExperienceEvent (time-series behavior)
]
FIELD_GROUPS = [
    # the ones aepflow's examples, fixtures and seeds name
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
    "https://ns.adobe.com/xdm/context/profile-work-details",
    "https://ns.adobe.com/xdm/context/identitymap",
    "https://ns.adobe.com/xdm/context/experienceevent-environment-details",
    # other widely used standard profile / event field groups
    "https://ns.adobe.com/xdm/context/profile-preferences-details",
    "https://ns.adobe.com/xdm/context/profile-phones",
    "https://ns.adobe.com/xdm/context/profile-test-profile",
    "https://ns.adobe.com/xdm/context/experienceevent-web",
    "https://ns.adobe.com/xdm/context/experienceevent-commerce",
    "https://ns.adobe.com/xdm/context/experienceevent-enduserids",
    "https://ns.adobe.com/xdm/context/experienceevent-implementation-details",
]

HOW = ("Compatibility Mode as the Schema Registry shows XDM (help/xdm/api/appendix.md#compatibility, "
       "help/xdm/schema/namespaces.md#compatibility): xdm:x -> x, @id -> _id, prefix:x -> _prefix.x, "
       "https://ns.adobe.com/[xdm/]a/b/x -> _a.b.x; $ref and allOf resolved and merged, JSON-LD @context "
       "skipped; meta:xdmType from the repository or from JSON Schema type/format/bounds "
       "(help/xdm/schema/field-constraints.md; an unbounded integer is long); recursion bounded: a $ref "
       f"already on its path, or a field deeper than {MAX_DEPTH} levels, becomes an object without properties")


# ------------------------------------------------------------------ reading the repository
def _git(git_dir: str, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], input=data, check=True,
                          capture_output=True).stdout


def load_repository(git_dir: str) -> tuple[str, dict[str, tuple[str, dict]]]:
    """HEAD's commit and every definition of the repository: $id -> (path, document)."""
    commit = _git(git_dir, "rev-parse", "HEAD").decode().strip()
    paths = [p for p in _git(git_dir, "ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
             if p.endswith(".schema.json") and p.split("/", 1)[0] in ("components", "extensions")]
    blob = _git(git_dir, "cat-file", "--batch", data="".join(f"HEAD:{p}\n" for p in paths).encode())
    docs: dict[str, tuple[str, dict]] = {}
    pos = 0
    for path in paths:
        header_end = blob.index(b"\n", pos)
        size = int(blob[pos:header_end].split()[2])
        body = blob[header_end + 1:header_end + 1 + size]
        pos = header_end + 1 + size + 1
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("$id"), str):
            docs.setdefault(doc["$id"].rstrip("#"), (path, doc))
    return commit, docs


# ------------------------------------------------------------------ JSON-LD -> Compatibility Mode
def field_path(key: str) -> list[str] | None:
    """The Compatibility Mode path of one JSON-LD property key (module docstring)."""
    if key == "@id":
        return ["_id"]
    if key.startswith("@"):
        return None  # @type and the like: JSON-LD keywords, not fields
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            if not key.startswith(NS) and not key.startswith("http://ns.adobe.com/"):
                return None
            segments = key.split("ns.adobe.com/", 1)[1].strip("/").split("/")
            if segments[0] == "xdm":
                segments = segments[1:]
            return ["_" + segments[0], *segments[1:]] if segments and segments[0] else None
    prefix, sep, name = key.partition(":")
    if not sep:
        return [key]
    if prefix == "xdm":
        return [name]
    return ["_" + prefix, name]


def xdm_type(node: dict) -> str:
    """meta:xdmType of a JSON Schema node (help/xdm/schema/field-constraints.md)."""
    if node.get("meta:xdmType"):
        return node["meta:xdmType"]
    kind = node.get("type")
    if kind == "string":
        return {"date": "date", "date-time": "date-time"}.get(node.get("format"), "string")
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if low is None or high is None:
            return "long"
        for name, bound in (("byte", 2 ** 7), ("short", 2 ** 15), ("int", 2 ** 31)):
            if -bound <= low and high <= bound:
                return name
        return "long"
    return {"number": "number", "boolean": "boolean", "array": "array"}.get(kind, "object")


class Resolver:
    def __init__(self, docs: dict[str, tuple[str, dict]]):
        self.docs = docs
        self.cut = 0  # how many nodes the recursion bound cut

    def target(self, ref: str, base: str) -> tuple[dict, str, str]:
        """(node, document $id, canonical ref) a $ref points at, relative to document `base`."""
        uri, _, fragment = ref.partition("#")
        doc_id = uri.rstrip("/") or base
        if doc_id not in self.docs:
            raise KeyError(f"unresolved $ref {ref} (from {base})")
        node = self.docs[doc_id][1]
        for part in [p for p in fragment.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, doc_id, f"{doc_id}#{fragment}"

    def raw_properties(self, node: dict, base: str, chain: tuple) -> dict[str, tuple[dict, str]]:
        """Every JSON-LD property a node brings (its own, its allOf members', its $ref's)."""
        out: dict[str, tuple[dict, str]] = {}
        if "$ref" in node:
            ref = node["$ref"]
            if ref.split("#")[0].rstrip("/") != EXTENSIBLE:
                target, doc_id, canonical = self.target(ref, base)
                if canonical not in chain:
                    out.update(self.raw_properties(target, doc_id, chain + (canonical,)))
        for member in node.get("allOf") or []:
            for key, value in self.raw_properties(member, base, chain).items():
                out[key] = _merge_raw(out.get(key), value)
        for key, value in (node.get("properties") or {}).items():
            out[key] = _merge_raw(out.get(key), (value, base))
        return out

    def tree(self, raw: dict[str, tuple[dict, str]], chain: tuple, depth: int) -> dict:
        out: dict = {}
        for key, (node, base) in raw.items():
            path = field_path(key)
            if not path:
                continue
            leaf = self.node(node, base, chain, depth + len(path))
            parent = out
            for name in path[:-1]:
                holder = parent.setdefault(name, {"type": "object", "meta:xdmType": "object", "properties": {}})
                parent = holder.setdefault("properties", {})
            parent[path[-1]] = _merge_tree(parent.get(path[-1]), leaf)
        return dict(sorted(out.items()))

    def node(self, node: dict, base: str, chain: tuple, depth: int) -> dict:
        shape = dict(node)
        if "$ref" in node:
            ref = node["$ref"]
            target, doc_id, canonical = self.target(ref, base)
            if canonical in chain or depth > MAX_DEPTH:
                self.cut += 1
                return {"type": "object", "meta:xdmType": "object"}
            shape = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            base, chain = doc_id, chain + (canonical,)
            if "allOf" in target or "properties" in target:
                shape = {**shape, "allOf": [target]}
                shape.pop("properties", None)
        kind = shape.get("type") or ("object" if ("properties" in shape or "allOf" in shape) else None)
        if kind == "array":
            items = shape.get("items") or {}
            return {"type": "array", "meta:xdmType": "array", "items": self.node(items, base, chain, depth)}
        if kind == "object" or kind is None:
            extra = shape.get("additionalProperties")
            if shape.get("meta:xdmType") == "map" or (isinstance(extra, dict) and not shape.get("properties")
                                                      and not shape.get("allOf")):
                out = {"type": "object", "meta:xdmType": "map"}
                if isinstance(extra, dict):
                    out["additionalProperties"] = self.node(extra, base, chain, depth)
                return out
            if depth > MAX_DEPTH:
                self.cut += 1
                return {"type": "object", "meta:xdmType": "object"}
            stripped = {k: v for k, v in shape.items() if k != "$ref"}
            properties = self.tree(self.raw_properties(stripped, base, chain), chain, depth)
            out = {"type": "object", "meta:xdmType": "object"}
            if properties:
                out["properties"] = properties
            return out
        out = {"type": kind}
        if kind == "string" and shape.get("format"):
            out["format"] = shape["format"]
        out["meta:xdmType"] = xdm_type({**shape, "type": kind})
        return out


def _merge_raw(old, new):
    if old is None:
        return new
    (a, base_a), (b, base_b) = old, new
    if base_a == base_b:
        return (_deep_merge(a, b), base_a)
    return new  # the later definition wins, as allOf order composes


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _merge_tree(old: dict | None, new: dict) -> dict:
    """Two field groups (or a class and a field group) defining one object merge their fields."""
    if old is None:
        return new
    if old.get("type") == new.get("type") == "object" and ("properties" in old or "properties" in new):
        merged = dict(old)
        props = dict(old.get("properties") or {})
        for k, v in (new.get("properties") or {}).items():
            props[k] = _merge_tree(props.get(k), v)
        merged["properties"] = dict(sorted(props.items()))
        return merged
    return new


# ------------------------------------------------------------------ the data file
def build(git_dir: str) -> dict:
    commit, docs = load_repository(git_dir)
    resolver = Resolver(docs)

    def entry(rid: str) -> dict:
        if rid not in docs:
            raise SystemExit(f"{rid} is not defined in adobe/xdm at {commit}")
        path, doc = docs[rid]
        raw = resolver.raw_properties(doc, rid, (rid + "#",))
        return {"title": doc.get("title", ""), "path": path,
                "properties": resolver.tree(raw, (rid + "#",), 0)}

    classes = {rid: entry(rid) for rid in CLASSES}
    groups = {}
    for rid in FIELD_GROUPS:
        e = entry(rid)
        groups[rid] = {"title": e["title"], "path": e["path"],
                       "intendedToExtend": list(docs[rid][1].get("meta:intendedToExtend") or []),
                       "properties": e["properties"]}
    return {"source": {"repository": "adobe/xdm", "commit": commit, "how": HOW},
            "classes": classes, "fieldGroups": groups}


def render(data: dict) -> str:
    """One class or field group a line: small, yet a diff still says which one changed."""
    lines = ["{", f' "source": {json.dumps(data["source"], sort_keys=True)},']
    for section in ("classes", "fieldGroups"):
        items = list(data[section].items())
        lines.append(f' "{section}": {{')
        for i, (rid, value) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            lines.append(f'  {json.dumps(rid)}: {json.dumps(value, separators=(",", ":"))}{comma}')
        lines.append(" }," if section == "classes" else " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xdm_git_dir", help="git directory of adobe/xdm")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    text = render(build(args.xdm_git_dir))
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run python -m local.emulator.vendor_xdm XDM_GIT_DIR",
                  file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(REPO)} is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(REPO)} ({len(text.encode()) // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
