"""A field the spec's models do not have, said so that it teaches: at its field path, with the
closest fields the model at that place takes ("did you mean deltaColumn?"), or where in the spec a
field of that name belongs (`source.deltaColumn`: deltaColumn is a field of the top level). The
fields come from the pydantic models themselves (model_fields and their aliases), so a field added
to a model is suggested with no list to keep."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from aepflow.spec import suggest
from aepflow.spec.model import DataflowSpec

TOP = "the top level of the spec"


# Models that are one branch of a union (a source's format: a word or a FileFormat): pydantic names the
# branch in an error's location.
UNION_MODELS = ("FileFormat",)


def is_tag(item: Any) -> bool:
    """A location item pydantic adds for a validator or a literal, not a key of the document."""
    return isinstance(item, str) and (item.startswith(("function-", "literal[")) or item in UNION_MODELS)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field's value is made of (itself, in a list, or one of a union with None)."""
    kinds = [a for a in get_args(annotation) if a is not type(None)] \
        if get_origin(annotation) in (Union, UnionType) else [annotation]
    for kind in kinds:
        if get_origin(kind) is Annotated:
            kind = get_args(kind)[0]
        if get_origin(kind) is list:
            kind = get_args(kind)[0]
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a document gives the model's fields (their aliases: `schema`, `class`)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _field(model: type[BaseModel], key: str) -> Any:
    return next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)


def model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at a location of the document (list indexes and validator tags skipped)."""
    model: type[BaseModel] | None = DataflowSpec
    for item in loc:
        if isinstance(item, int) or is_tag(item):
            continue
        found = _field(model, str(item)) if model else None
        model = nested_model(found.annotation) if found is not None else None
    return model


def _places() -> list[tuple[str, type[BaseModel]]]:
    """Every model of the spec with the place it sits at (`source.columns[]`), the top level first."""
    out: list[tuple[str, type[BaseModel]]] = []
    work: list[tuple[str, type[BaseModel]]] = [("", DataflowSpec)]
    while work:
        place, model = work.pop(0)
        if any(m is model for _, m in out):
            continue
        out.append((place, model))
        for name, field in model.model_fields.items():
            kind = nested_model(field.annotation)
            if kind is not None:
                key = field.alias or name
                many = get_origin(field.annotation) is list or any(
                    get_origin(a) is list for a in get_args(field.annotation))
                work.append((f"{place}.{key}".lstrip(".") + ("[]" if many else ""), kind))
    return out


_PLACES: list[tuple[str, type[BaseModel]]] = []


def _elsewhere(key: str, here: type[BaseModel]) -> str:
    """'deltaColumn is a field of the top level of the spec' when a model elsewhere has a field close to
    `key`, else ''."""
    if not _PLACES:
        _PLACES.extend(_places())
    where: dict[str, list[str]] = {}
    for place, model in _PLACES:
        if model is not here:
            for name in field_names(model):
                where.setdefault(name, []).append(place or TOP)
    near = suggest.closest(key, where, n=1)
    if not near:
        return ""
    return f"{near[0]} is a field of {' and of '.join(where[near[0]][:2])}"


def message(loc: tuple[Any, ...], here: str) -> tuple[str, str | None]:
    """(what to say of the unknown field at `loc`, whose parent's path is `here`; the closest field of
    the same model, which a problem about that field's absence folds into this one, or None)."""
    key = str(loc[-1])
    model = model_at(loc[:-1])
    if model is None:
        return f"unknown field {key!r}", None
    allowed = field_names(model)
    near = suggest.closest(key, allowed)
    if near:
        return f"unknown field {key!r}; did you mean {suggest.quoted(near)}?", near[0]
    place = here if here != "(spec)" else TOP
    elsewhere = _elsewhere(key, model)
    if elsewhere:
        return f"unknown field {key!r}: {elsewhere}, not of {place}", None
    return f"unknown field {key!r}; {place} takes {suggest.listing(allowed)}", None


def present(raw: Any, loc: tuple[Any, ...]) -> bool:
    """Whether the raw document has a value at `loc` (validator tags skipped)."""
    node = raw
    for item in loc:
        if is_tag(item):
            continue
        if isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node):
            node = node[item]
        elif isinstance(item, str) and isinstance(node, dict) and item in node:
            node = node[item]
        else:
            return False
    return True
