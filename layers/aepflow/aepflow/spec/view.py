"""The spec and its resolved source as the steps after "Validate the dataflow spec" read them: from
the state, without pydantic.

That step parsed them (spec.parse_spec, spec.resolve_source) and its answer replaced the
execution's state (ResultPath $): the state holds their JSON dumps (by alias, None left out). A step
reads them through a View, which answers each field of the model by its attribute name, as the
model would (a nested model as a View, a list of them as a list of Views, an absent optional field
as None), refuses a name the model does not have, and dumps itself as the model would. The models'
fields come from view_fields.json, which spec.schema.view_fields() writes and a test holds to the models.
A step's cold start thus imports neither pydantic nor the spec's models (0.06-0.07 s of a step's
import here, before its own code), and its first event builds nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aepflow.spec.connectors import Connector, connector_of_source

if TYPE_CHECKING:
    from aepflow.spec.model import DataflowSpec, ResolvedSource

# model -> attribute -> [key in the dump, model of the value or None]
FIELDS: dict[str, dict[str, list[str | None]]] = json.loads(
    (Path(__file__).resolve().parent / "view_fields.json").read_text())


def _pair(entry: list[str | None]) -> tuple[str, str | None]:
    """One [key in the dump, model of the value or None] of view_fields.json, as a typed pair."""
    key, nested = entry
    if not isinstance(key, str):
        raise ValueError(f"view_fields.json: {entry!r} names no key in the dump")
    return key, nested


# model -> attribute -> (key in the dump, model of the value or None): FIELDS, typed
_BY_NAME: dict[str, dict[str, tuple[str, str | None]]] = {
    model: {name: _pair(entry) for name, entry in fields.items()} for model, fields in FIELDS.items()}
# model -> key in the dump -> (attribute, model of the value or None), for model_dump
_BY_KEY: dict[str, dict[str, tuple[str, str | None]]] = {
    model: {key: (name, nested) for name, (key, nested) in fields.items()} for model, fields in _BY_NAME.items()}


class View:
    """One model's JSON dump, read as the model."""

    __slots__ = ("_model", "_data")

    def __init__(self, model: str, data: dict[str, Any]):
        self._model = model
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            key, nested = _BY_NAME[self._model][name]
        except KeyError:
            raise AttributeError(f"{self._model} has no field {name!r}") from None
        value = self._data.get(key)
        if value is None or nested is None or not isinstance(value, (dict, list)):
            return value  # a plain value, also where a union allows one beside a model (a source's format)
        if isinstance(value, list):
            return [View(nested, item) for item in value]
        return View(nested, value)

    def model_dump(self, *, mode: str = "python", by_alias: bool = False, exclude_none: bool = False) -> dict[str, Any]:
        """What the model's model_dump(exclude_none=True) gives, by alias or not: the dump holds JSON's
        values, which both modes give alike for these models."""
        if not exclude_none:
            raise ValueError("a View holds no None: dump it with exclude_none=True")
        if mode not in ("python", "json"):
            raise ValueError(f"unknown mode {mode!r}")
        return _dump(self._model, self._data, by_alias)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, View) and (self._model, self._data) == (other._model, other._data)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"View({self._model}, {self._data!r})"


def _dump(model: str, data: dict[str, Any], by_alias: bool) -> dict[str, Any]:
    names = _BY_KEY[model]
    out: dict[str, Any] = {}
    for key, value in data.items():  # the dump's order, which is the model's
        if key not in names or value is None:
            continue
        name, nested = names[key]
        if nested is not None and isinstance(value, (dict, list)):
            value = [_dump(nested, item, by_alias) for item in value] if isinstance(value, list) \
                else _dump(nested, value, by_alias)
        elif isinstance(value, (dict, list)):
            value = copy.deepcopy(value)  # a dump is the caller's to change
        out[key if by_alias else name] = value
    return out


class SpecView(View):
    """A DataflowSpec's dump, with the model's one property."""

    __slots__ = ()

    def __init__(self, data: dict[str, Any]):
        super().__init__("DataflowSpec", data)

    @property
    def connector(self) -> Connector | None:
        return connector_of_source(self.source)


def validated(state: dict[str, Any]) -> tuple[DataflowSpec, ResolvedSource]:
    """The spec and its resolved source as "Validate the dataflow spec" answered them (read as
    their models: the types say what a step may read)."""
    spec, resolved = state.get("spec"), state.get("resolved")
    if not isinstance(spec, dict) or not isinstance(resolved, dict):
        raise ValueError("the state holds no validated spec and resolved source (\"Validate the dataflow spec\" "
                         "answers them)")
    return SpecView(spec), View("ResolvedSource", resolved)  # type: ignore[return-value]
