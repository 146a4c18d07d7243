"""A row filter at the source: the spec's `source.filter`, written readably, compiled to the PQL JSON
Flow Service takes in a source connection's params.filters and in explore's `filters`
(help/sources/tutorials/api/filter.md), and held to what the connector's connection spec allows
(attributes.filterAtSource). Pure: no call, no state.

The readable form (keywords in any case):

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" filter ")" | condition
    condition  := column ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                | column ["not"] "like" string            % any characters, _ one character
                | column ["not"] "in" "(" value ("," value)* ")"
                | column "is" ["not"] "null"
    column     := a bare name (letters, digits, _ and ., not starting with a digit)
                | `any name` (a backtick inside written twice, BigQuery's columnNameEscapeChar)
    value      := "text" | 'text' (\\ escapes the quote and itself) | a number | true | false

`not` binds tighter than `and`, which binds tighter than `or`: `a = 1 or b = 2 and not c = 3` is
`a = 1 or (b = 2 and (not c = 3))`. A chain of one operator is one fnApply with every operand as a
param, as the page's nested example writes `and`; `not` is the page's fnName `NOT`, `is null` its
`isNull`; `not like`, `not in` and `is not null` are NOT around the condition.

Bounded: at most MAX_TEXT characters, MAX_CONDITIONS conditions and MAX_DEPTH levels of nesting
(parentheses and `not`); anything else is refused with a FilterError naming the character where
it went wrong and what was expected there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aepflow.spec.connectors import CONNECTORS, Connector

MAX_TEXT, MAX_CONDITIONS, MAX_DEPTH = 2000, 100, 20
PQL_TYPE, PQL_FORMAT = "PQL", "pql/json"
# filter.md's operator table and its appendix (isNull), and its logical operators: what a source whose
# filterAtSource lists no operators is taken to allow.
PAGE_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "like", "in", "isNull")
PAGE_LOGICAL = ("and", "or", "not")
_COMPARE = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "like", "in", "is", "null", "true", "false"}
_READABLE = {"isNull": "is null", "NOT": "not"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)


class FilterError(ValueError):
    """A filter that does not compile: `position` is the 1-based character where it went wrong."""

    def __init__(self, message: str, position: int):
        super().__init__(f"at character {position}: {message}")
        self.position = position


@dataclass(frozen=True)
class _Token:
    kind: str  # name | quoted | string | number | op | punct | end
    value: Any
    position: int  # 1-based

    def shown(self) -> str:
        if self.kind == "end":
            return "the end of the filter"
        if self.kind == "string":
            return f"the text {json.dumps(self.value)}"
        if self.kind == "quoted":
            return f"the column `{self.value}`"
        return repr(str(self.value))

    def keyword(self, *words: str) -> bool:
        return self.kind == "name" and str(self.value).lower() in words


def _quoted(text: str, start: int, quote: str, escape: str) -> tuple[str, int]:
    """The text between quotes from `start` (the opening quote) and the index after the closing one.
    `escape` escapes the quote (and itself, for a backslash); a backtick is escaped by doubling it."""
    out, i = [], start + 1
    while i < len(text):
        char = text[i]
        if char == escape and escape != quote and i + 1 < len(text) and text[i + 1] in (quote, escape):
            out.append(text[i + 1])
            i += 2
        elif char == quote and escape == quote and text[i + 1:i + 2] == quote:
            out.append(quote)
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    what = "column name" if quote == "`" else "text"
    raise FilterError(f"the {what} opened here has no closing {quote}", start + 1)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            value, end = _quoted(text, i, char, "\\")
            tokens.append(_Token("string", value, i + 1))
            i = end
            continue
        if char == "`":
            value, end = _quoted(text, i, "`", "`")
            if not value.strip():
                raise FilterError("expected a column name between the backticks", i + 1)
            tokens.append(_Token("quoted", value, i + 1))
            i = end
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise FilterError(f"unexpected {char!r}: expected a column, an operator, a value or a parenthesis",
                              i + 1)
        kind = match.lastgroup or "space"
        if kind == "number":
            raw = match.group()
            number: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if isinstance(number, float) and number in (float("inf"), float("-inf")):
                raise FilterError(f"the number {raw} is too large", i + 1)
            tokens.append(_Token("number", number, i + 1))
        elif kind != "space":
            tokens.append(_Token(kind, match.group(), i + 1))
        i = match.end()
    tokens.append(_Token("end", None, len(text) + 1))
    return tokens


def _apply(name: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {"nodeType": "fnApply", "fnName": name, "params": list(params)}


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.at = 0
        self.conditions = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, expected: str) -> FilterError:
        return FilterError(f"expected {expected}, found {self.token.shown()}", self.token.position)

    def parse(self) -> dict[str, Any]:
        if self.token.kind == "end":
            raise self.fail("a condition (column operator value)")
        node = self.either(0)
        if self.token.kind != "end":
            closes = " (it closes no parenthesis)" if self.token.value == ")" else ""
            raise FilterError(f"expected and, or, or the end of the filter, found {self.token.shown()}{closes}",
                              self.token.position)
        return node

    def chain(self, word: str, operand: Any, depth: int) -> dict[str, Any]:
        nodes = [operand(depth)]
        while self.token.keyword(word):
            self.take()
            nodes.append(operand(depth))
        return nodes[0] if len(nodes) == 1 else _apply(word, *nodes)

    def either(self, depth: int) -> dict[str, Any]:
        return self.chain("or", self.both, depth)

    def both(self, depth: int) -> dict[str, Any]:
        return self.chain("and", self.negated, depth)

    def deeper(self, depth: int) -> int:
        if depth + 1 > MAX_DEPTH:
            raise FilterError(f"nested deeper than {MAX_DEPTH} levels (parentheses and not)", self.token.position)
        return depth + 1

    def negated(self, depth: int) -> dict[str, Any]:
        if self.token.keyword("not"):
            self.take()
            return _apply("NOT", self.negated(self.deeper(depth)))
        if self.token.value == "(" and self.token.kind == "punct":
            opened = self.take()
            inner = self.either(self.deeper(depth))
            if self.token.value != ")":
                raise FilterError(f"expected ) to close the ( at character {opened.position}, found "
                                  f"{self.token.shown()}", self.token.position)
            self.take()
            return inner
        return self.condition()

    def column(self) -> dict[str, Any]:
        token = self.token
        if token.kind == "quoted" or token.kind == "name" and str(token.value).lower() not in _KEYWORDS:
            self.take()
            return {"nodeType": "fieldLookup", "fieldName": str(token.value)}
        hint = " (a column named so is written in backticks)" if token.kind == "name" else ""
        raise FilterError(f"expected a column name, not or (, found {token.shown()}{hint}", token.position)

    def value(self, what: str = "a value (\"text\", a number, true or false)") -> Any:
        token = self.token
        if token.kind in ("string", "number"):
            self.take()
            return token.value
        if token.keyword("true", "false"):
            self.take()
            return str(token.value).lower() == "true"
        if token.keyword("null"):
            raise FilterError("null is not a value to compare with: write `column is null`", token.position)
        raise self.fail(what)

    def condition(self) -> dict[str, Any]:
        start = self.token.position
        field = self.column()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(f"more than {MAX_CONDITIONS} conditions", start)
        token = self.token
        if token.kind == "op":
            self.take()
            return _apply(_COMPARE[str(token.value)], field, {"nodeType": "literal", "value": self.value()})
        if token.keyword("is"):
            self.take()
            negate = self.token.keyword("not")
            if negate:
                self.take()
            if not self.token.keyword("null"):
                raise self.fail("null (is null, is not null)")
            self.take()
            node = _apply("isNull", field)
            return _apply("NOT", node) if negate else node
        negate = token.keyword("not")
        if negate:
            self.take()
        if self.token.keyword("like"):
            self.take()
            node = _apply("like", field, {"nodeType": "literal", "value": self.value("a \"pattern\" in quotes "
                                                                                     "(% any characters, _ one)")})
            if not isinstance(node["params"][1]["value"], str):
                raise FilterError("like takes a \"pattern\" in quotes", self.tokens[self.at - 1].position)
        elif self.token.keyword("in"):
            self.take()
            node = _apply("in", field, {"nodeType": "literal", "value": self.values()})
        else:
            raise self.fail("like or in after not" if negate else
                            "an operator (= != < <= > >= like in, is null)")
        return _apply("NOT", node) if negate else node

    def values(self) -> list[Any]:
        if self.token.value != "(" or self.token.kind != "punct":
            raise self.fail("( and a list of values: in (\"a\", \"b\")")
        self.take()
        items = [self.value()]
        while self.token.value == "," and self.token.kind == "punct":
            self.take()
            items.append(self.value())
        if self.token.value != ")":
            raise self.fail(", or ) in the list of values")
        self.take()
        return items


def compile_value(text: str) -> dict[str, Any]:
    """The PQL node of a readable filter (what goes in the document's `value`); FilterError if it is not one."""
    if not isinstance(text, str):
        raise FilterError("a filter is text", 1)
    if len(text) > MAX_TEXT:
        raise FilterError(f"a filter is at most {MAX_TEXT} characters (this one has {len(text)})", MAX_TEXT + 1)
    return _Parser(text).parse()


def compile_filter(text: str) -> dict[str, Any]:
    """The PQL document of a readable filter, as params.filters and explore's `filters` take it (filter.md)."""
    return {"type": PQL_TYPE, "format": PQL_FORMAT, "value": compile_value(text)}


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every node of a PQL tree, depth first, in order."""
    out: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            out.append(current)
            stack.extend(reversed(current.get("params") or []))
    return out


def _value_of(filter_: str | dict[str, Any]) -> Any:
    if isinstance(filter_, str):
        return compile_value(filter_)
    return filter_.get("value") if filter_.get("type") == PQL_TYPE else filter_


def fields(filter_: str | dict[str, Any]) -> list[str]:
    """The column names a filter (readable, or its PQL document or node) looks up, each once, in order."""
    names = [n.get("fieldName") for n in _walk(_value_of(filter_)) if n.get("nodeType") == "fieldLookup"]
    return list(dict.fromkeys(str(n) for n in names if isinstance(n, str)))


def operators(filter_: str | dict[str, Any]) -> tuple[list[str], list[str]]:
    """(comparison operators, logical operators) a filter uses, each once: PQL's fnNames (=, like, in,
    isNull, ...) and and/or/not in lower case, as filterAtSource lists them."""
    comparisons: list[str] = []
    logical: list[str] = []
    for node in _walk(_value_of(filter_)):
        name = node.get("fnName")
        if node.get("nodeType") != "fnApply" or not isinstance(name, str):
            continue
        if name.lower() in PAGE_LOGICAL:
            logical.append(name.lower())
        else:
            comparisons.append(name)
    return list(dict.fromkeys(comparisons)), list(dict.fromkeys(logical))


def readable(operator: str) -> str:
    """An operator as the readable form writes it (isNull is `is null`)."""
    return _READABLE.get(operator, operator)


# --- What the connector's connection spec allows (attributes.filterAtSource) -------------------------------

def _takers() -> str:
    return ", ".join(sorted(c.label for c in CONNECTORS.values() if c.takes_filters))


def allowed(connector: Connector) -> tuple[list[str], list[str]]:
    """(comparison operators, logical operators) the connector's filterAtSource allows: those it lists, else
    filter.md's table (= != < <= > >= like in, isNull; and, or, not). `==` is `=` (the page writes both)."""
    spec = connector.filter_at_source or {}
    listed = [str(o) for o in spec.get("comparisonOperators") or [] if isinstance(o, str)]
    comparisons = list(dict.fromkeys("=" if o == "==" else o for o in listed)) or list(PAGE_COMPARISONS)
    logical = [str(o).lower() for o in spec.get("logicalOperators") or [] if isinstance(o, str)] or list(PAGE_LOGICAL)
    return comparisons, logical


def connector_problems(connector: Connector | None, text: str, *, path: str = "source.filter",
                       label: str | None = None) -> list[dict[str, str]]:
    """Why `connector` cannot take the filter `text`: it filters no rows at the source, or the filter uses an
    operator its filterAtSource does not list. [] when it can, or when the text does not compile (the
    spec's own check says why). `label` names a source outside the catalog."""
    if connector is None:
        return [{"path": path, "message": (
            f"{label or 'this source'} is not a catalog connector, so aepflow cannot tell whether it filters rows "
            f"at the source (its connection spec's attributes.filterAtSource, filter.md); the sources that take "
            f"a filter are {_takers()}")}]
    if not connector.takes_filters:
        return [{"path": path, "message": (
            f"{connector.label} does not filter rows at the source (its connection spec's attributes.filterAtSource "
            f"is not enabled, filter.md); the sources that take a filter are {_takers()}")}]
    try:
        comparisons, logical = operators(text)
    except FilterError:
        return []
    can_compare, can_join = allowed(connector)
    refused = [readable(o) for o in comparisons if o not in can_compare]
    refused += [o for o in logical if o not in can_join]
    if not refused:
        return []
    return [{"path": path, "message": (
        f"{connector.label} does not take {', '.join(refused)} in a filter; its connection spec's filterAtSource "
        f"allows the comparisons {' '.join(readable(o) for o in can_compare)} and the logical operators "
        f"{' '.join(can_join)}")}]


def checked(value: str | None) -> str | None:
    """A filter field's check (a spec's source.filter, an explore request's filter): it compiles, else
    ValueError with the compiler's message (the character, what was expected)."""
    if value is not None:
        try:
            compile_filter(value)
        except FilterError as exc:
            raise ValueError(str(exc)) from None
    return value
