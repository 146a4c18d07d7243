"""The one way in for a spec document: every door (the CLI, the API, the specs bucket, a custom
event, a direct StartExecution) turns what it received into a plain tree of dicts, lists, text,
numbers, booleans and nulls through `read`, before the spec model sees it.

A document is hostile until read. `read` refuses, with a field path and without ever calling AEP:
- more than MAX_DOCUMENT_BYTES (so the state machine's input stays well under the 256 KB
  payload limit of Step Functions), text that is not UTF-8, an empty document, more than one;
- YAML anchors and aliases (an alias bomb expands a few hundred bytes into gigabytes), merge
  keys (`<<`) and tags (`!!binary`, `!!timestamp`, `!custom`, ...);
- nesting deeper than MAX_DEPTH, a mapping key that is not text, a duplicate key;
- control characters in text, an integer beyond 64 bits, a number that is not finite.

YAML is read with the YAML 1.2 core schema's plain scalars: `true`/`false` are booleans but
`yes`, `no`, `on` and `off` stay text (`table: NO` is the table "NO"), `1:20` is text, not a
base-60 number, and an unquoted date stays text, so that the spec model can say that an epoch
was wanted. The tree is built from the parser's events without recursion, so its cost is linear
in the size of the document, which the size limit bounds.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aepflow.core.errors import DocumentTooLarge, SpecInvalid

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DEPTH = 20
MAX_INT = 2 ** 63 - 1
DOCUMENT = "(document)"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0]")
# Control characters in the text are swapped for this noncharacter before parsing, so that the
# parser does not stop at them and the tree check can name the field that holds one.
_STAND_IN = "\ufdd0"
_STAND_INS = {code: _STAND_IN for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_NOT_FINITE = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")


def _refuse(path: str, message: str) -> SpecInvalid:
    return SpecInvalid(f"the spec document is refused: {message}", problems=[{"path": path, "message": message}])


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or DOCUMENT


# --- Text: bytes -> str ----------------------------------------------------------------------------

def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        if len(data.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
            raise _too_large()
        if "\x00" in data.lstrip("\ufeff")[:2]:  # UTF-16 bytes that went through a UTF-8 decode
            raise _refuse(DOCUMENT, "the document is UTF-16 or UTF-32; save it as UTF-8")
        return data
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _too_large()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and (data[0] == 0 or data[1] == 0)):
        raise _refuse(DOCUMENT, "the document is UTF-16 or UTF-32; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(DOCUMENT, f"the document is not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})"
                      ) from None


def _too_large() -> SpecInvalid:
    message = f"the document is larger than {MAX_DOCUMENT_BYTES} bytes"
    return DocumentTooLarge(f"the spec document is refused: {message}",
                            problems=[{"path": DOCUMENT, "message": message}])


# --- Values -------------------------------------------------------------------------------------

def _check_text(value: str, path: list[str | int]) -> str:
    found = _CONTROL.search(value)
    if found:
        what = "a control character" if found.group() == _STAND_IN else f"control character U+{ord(found.group()):04X}"
        raise _refuse(_path(path), f"{what} is not allowed in text")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise _refuse(_path(path), "text holds an unpaired surrogate; it is not valid Unicode")
    return value


def _check_int(value: int, path: list[str | int]) -> int:
    if not -MAX_INT - 1 <= value <= MAX_INT:
        raise _refuse(_path(path), "the number is too large (beyond 64 bits)")
    return value


def _check_float(value: float, path: list[str | int]) -> float:
    if not math.isfinite(value):
        raise _refuse(_path(path), "the number is not finite")
    return value


def _plain_scalar(value: str, path: list[str | int]) -> Any:
    """A plain (unquoted) YAML scalar, resolved with the YAML 1.2 core schema."""
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    digits = value.lstrip("+-")
    if _INT.match(value) or _INT_OCT.match(value) or _INT_HEX.match(value):
        if len(digits) > 24:
            raise _refuse(_path(path), "the number is too large (beyond 64 bits)")
        return _check_int(int(value, 0) if value[:2] in ("0o", "0x") else int(value), path)
    if _FLOAT.match(value):
        if len(value) > 64:
            raise _refuse(_path(path), "the number has too many digits")
        return _check_float(float(value), path)
    if _NOT_FINITE.match(value):
        raise _refuse(_path(path), "the number is not finite")
    return _check_text(value, path)


# --- YAML ---------------------------------------------------------------------------------------

class _Node:
    """A collection being built: the container, and for a mapping the key awaiting its value."""

    __slots__ = ("value", "key", "has_key")

    def __init__(self, value: dict | list):
        self.value = value
        self.key: str | None = None
        self.has_key = False


class _YamlTree:
    """The tree a YAML document's events build, refused at the first event that breaks a rule (an
    alias, an anchor, a tag, a merge key, a key that is not text, a duplicate key, too deep)."""

    def __init__(self) -> None:
        self.stack: list[_Node] = []
        self.path: list[str | int] = []
        self.root: Any = None
        self.documents = 0

    @staticmethod
    def position(event: Any) -> str:
        mark = getattr(event, "start_mark", None)
        return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""

    def child_path(self) -> list[str | int]:
        if not self.stack:
            return []
        top = self.stack[-1]
        if isinstance(top.value, list):
            return [*self.path, len(top.value)]
        return [*self.path, top.key] if top.has_key and top.key is not None else list(self.path)

    def expecting_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].value, dict) and not self.stack[-1].has_key

    def add(self, value: Any, event: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif not top.has_key:
            where = self.position(event)
            if not isinstance(value, str):
                raise _refuse(_path(self.path), f"a mapping key must be text, not {type(value).__name__}{where}")
            if value == "<<":
                raise _refuse(_path(self.path), f"YAML merge keys (<<) are not allowed{where}")
            if value in top.value:
                raise _refuse(_path([*self.path, value]), f"duplicate key {value!r}{where}")
            top.key, top.has_key = value, True
        else:
            top.value[top.key] = value
            top.key, top.has_key = None, False

    def node_event(self, event: Any) -> None:
        """A scalar or the start of a mapping or sequence: no anchor, no tag."""
        where = self.child_path()
        if event.anchor is not None:
            raise _refuse(_path(where), f"YAML anchors (&{event.anchor}) are not allowed{self.position(event)}")
        if event.tag is not None:
            raise _refuse(_path(where), f"YAML tags ({event.tag}) are not allowed{self.position(event)}")

    def scalar(self, event: Any) -> None:
        where = list(self.path) if self.expecting_key() else self.child_path()  # a key: at its mapping's path
        plain = event.implicit[0]  # untagged and unquoted
        self.add(_plain_scalar(event.value, where) if plain else _check_text(event.value, where), event)

    def start(self, value: dict | list, event: Any) -> None:
        where = self.child_path()
        if len(self.stack) >= MAX_DEPTH:
            raise _refuse(_path(where), f"the document is nested deeper than {MAX_DEPTH} levels")
        if self.expecting_key():
            raise _refuse(_path(self.path), f"a mapping key must be text, not a collection{self.position(event)}")
        node = _Node(value)
        self.add(node.value, event)
        if self.stack:
            self.path.append(where[-1])
        self.stack.append(node)

    def end(self) -> None:
        self.stack.pop()
        if self.stack:
            self.path.pop()


def _yaml(text: str) -> Any:
    # PyYAML is imported here, not at the top: a JSON document (every spec a step or the state
    # machine passes on) never needs it, and most handlers' cold starts stay without it.
    import yaml

    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    tree = _YamlTree()
    try:
        for event in yaml.parse(text, Loader=parser):
            if isinstance(event, yaml.AliasEvent):
                raise _refuse(_path(tree.child_path()),
                              f"YAML aliases (*{event.anchor}) are not allowed{tree.position(event)}")
            if isinstance(event, yaml.DocumentStartEvent):
                tree.documents += 1
                if tree.documents > 1:
                    raise _refuse(DOCUMENT, f"the file holds more than one YAML document{tree.position(event)}")
            elif isinstance(event, yaml.ScalarEvent):
                tree.node_event(event)
                tree.scalar(event)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                tree.node_event(event)
                tree.start({} if isinstance(event, yaml.MappingStartEvent) else [], event)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                tree.end()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _refuse(DOCUMENT, f"not YAML or JSON: {problem}{where}") from None
    if tree.documents == 0:
        raise _refuse(DOCUMENT, "the document is empty")
    return tree.root


# --- JSON ---------------------------------------------------------------------------------------

class _Marker:
    """What the JSON decoder hands back for a value the tree check must refuse with its path."""

    def __init__(self, message: str):
        self.message = message


class _Pairs(dict):
    duplicate: str | None = None


def _pairs(items: list[tuple[str, Any]]) -> dict:
    result = _Pairs()
    for key, value in items:
        if key in result and result.duplicate is None:
            result.duplicate = key
        result[key] = value
    return result


def _json_int(text: str) -> Any:
    if len(text.lstrip("-")) > 24:
        return _Marker("the number is too large (beyond 64 bits)")
    return int(text)


def _json_depth(text: str) -> None:
    """Refuse deep nesting before the decoder recurses into it."""
    depth, in_string, escaped = 0, False, False
    for index, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(DOCUMENT, f"the document is nested deeper than {MAX_DEPTH} levels (at character {index})")
        elif ch in "]}":
            depth -= 1


def _json(text: str) -> Any:
    _json_depth(text)
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_json_int,
                          parse_constant=lambda name: _Marker(f"{name} is not a number JSON allows"))
    except json.JSONDecodeError as exc:
        raise _refuse(DOCUMENT, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


# --- The tree -----------------------------------------------------------------------------------

def _checked_scalar(value: Any, path: list[str | int]) -> Any:
    """A leaf of the tree, checked (or refused with its path)."""
    if isinstance(value, _Marker):
        raise _refuse(_path(path), value.message)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return _check_int(value, path)
    if isinstance(value, float):
        return _check_float(value, path)
    if isinstance(value, str):
        return _check_text(value, path)
    raise _refuse(_path(path), f"{type(value).__name__} is not a JSON value")


def check_tree(tree: Any) -> Any:
    """Check an already parsed tree (an event's detail, a state machine input) against the same
    limits, without recursion; returns a plain copy (no decoder markers)."""
    root: list[Any] = [None]
    work: list[tuple[Any, list[str | int], Any, Any]] = [(tree, [], root, 0)]
    while work:
        value, path, parent, slot = work.pop()
        if isinstance(value, (dict, list)) and len(path) >= MAX_DEPTH:
            raise _refuse(_path(path), f"the document is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            duplicate = getattr(value, "duplicate", None)
            if duplicate is not None:
                raise _refuse(_path([*path, duplicate]), f"duplicate key {duplicate!r}")
            copy: Any = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _refuse(_path(path), f"a mapping key must be text, not {type(key).__name__}")
                _check_text(key, path)
                copy[key] = None
                work.append((item, [*path, key], copy, key))
        elif isinstance(value, list):
            copy = [None] * len(value)
            for index, item in enumerate(value):
                work.append((item, [*path, index], copy, index))
        else:
            copy = _checked_scalar(value, path)
        parent[slot] = copy
    if isinstance(root[0], (dict, list)):  # the depth is bounded now, so dumping cannot recurse far
        if len(json.dumps(root[0], separators=(",", ":"), ensure_ascii=False).encode("utf-8")) > MAX_DOCUMENT_BYTES:
            raise _too_large()
    return root[0]


def read(document: Any, *, json_only: bool = False) -> dict[str, Any]:
    """The spec document as a plain tree, or SpecInvalid naming the problem by field path.
    Text (bytes or str) is parsed as JSON when it starts with `{` or `[` (or always, with
    `json_only`), else as YAML; anything else is taken as an already parsed tree (an event's
    detail, a StartExecution input). The top of a document is always a mapping."""
    if isinstance(document, (bytes, bytearray, memoryview)):
        text = _text(bytes(document))
    elif isinstance(document, str):
        text = _text(document)
    else:
        return _object(check_tree(document))
    text = text.translate(_STAND_INS)
    stripped = text.lstrip(" \t\r\n\ufeff")
    if not stripped:
        raise _refuse(DOCUMENT, "the document is empty")
    if json_only or stripped[0] in "{[":
        try:
            return _object(check_tree(_json(stripped)))
        except SpecInvalid as not_json:
            if json_only or not not_json.message.startswith("the spec document is refused: not JSON"):
                raise
            try:  # a YAML flow mapping, `{name: x, ...}`, is not JSON
                return _object(check_tree(_yaml(text)))
            except SpecInvalid:
                raise not_json from None
    return _object(check_tree(_yaml(text)))


def _object(tree: Any) -> dict[str, Any]:
    if not isinstance(tree, dict):
        kind = "a list" if isinstance(tree, list) else "null" if tree is None else f"a {type(tree).__name__}"
        raise _refuse(DOCUMENT, f"expected a mapping (an object) at the top of the document, not {kind}")
    return tree
