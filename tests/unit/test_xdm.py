"""A spec's mapping held against its target schema's fields (aepflow.xdm), from XDM's published
definitions: what a destination must be, where a problem is reported, what is left to AEP."""

import copy

import pytest

from aepflow.core.errors import SpecInvalid
from aepflow.spec import xdm
from aepflow.spec.parse import parse_spec, resolve_source
from aepflow.steps import validate
from local.examples import example

PROFILE = "https://ns.adobe.com/xdm/context/profile"
EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
GROUPS = [f"https://ns.adobe.com/xdm/context/{g}" for g in ("profile-person-details", "profile-personal-details")]


def test_a_standard_schemas_fields_are_its_class_and_field_groups_merged():
    fields = xdm.standard_fields([PROFILE, *GROUPS])
    for path in ("_id", "_repo.createDate", "person.name.fullName", "person.birthDate", "personalEmail.address"):
        node, why = xdm.field_at(fields, path)
        assert node is not None and why is None, path
    assert xdm.field_at(xdm.standard_fields([PROFILE]), "person.name.fullName")[0] is None  # not in the class
    assert xdm.standard_fields([PROFILE, "https://ns.adobe.com/acme/mixins/abc"]) is None  # AEP alone knows it


def test_a_path_walks_objects_arrays_and_maps_and_says_where_it_stops():
    fields = xdm.standard_fields([EVENT, f"{EVENT}-commerce", "https://ns.adobe.com/xdm/context/identitymap"])
    assert xdm.field_at(fields, "productListItems[0].SKU")[0]["type"] == "string"
    assert xdm.field_at(fields, "identityMap.Email[*].id")[0]["type"] == "string"
    node, why = xdm.field_at(fields, "timestamp.x")
    assert node is None and "timestamp is a" in why
    node, why = xdm.field_at(fields, "timestamp[0]")
    assert node is None and "not an array" in why
    node, why = xdm.field_at(fields, "commerce.nope")
    assert node is None and "commerce has no field 'nope'" in why and "(it has " in why


def _validated(raw):
    spec = parse_spec(raw)
    resolved = resolve_source(spec)
    return spec, resolved, validate.mapping_problems(spec, resolved)


def test_validation_holds_a_created_schemas_mapping_and_leaves_a_named_one_to_aep():
    raw = example("004")
    spec, resolved, problems = _validated(raw)
    assert problems == [] and resolved.mappingCheckedInAep is False
    bad = copy.deepcopy(raw)
    bad["mapping"][2]["destination"] = "_idd"
    bad["mapping"][0]["destination"] = "person.name"  # a table's column holds one value, not an object
    _, _, problems = _validated(bad)
    assert [p["path"] for p in problems] == ["mapping[0].destination", "mapping[2].destination"]
    assert "map it to one of its fields (courtesyTitle, firstName, fullName" in problems[0]["message"]
    named = example("001")
    _, resolved, problems = _validated(named)
    assert problems == [] and resolved.mappingCheckedInAep is True
    rest = example("002")  # a REST attribute may hold an object: only a table's column is refused for it
    rest["target"] = copy.deepcopy(raw["target"])
    rest["mapping"] = [{"source": "result", "destination": "person.name"}]
    assert _validated(rest)[2] == []


def test_a_destination_mapped_twice_is_refused_at_the_second():
    raw = example("004")
    raw["mapping"].append({"source": "ID", "destination": raw["mapping"][0]["destination"]})
    with pytest.raises(SpecInvalid) as refused:
        parse_spec(raw)
    assert refused.value.problems == [{"path": "mapping[3].destination", "message": (
        "'person.name.fullName' is mapped already by mapping[0]: a field is mapped once")}]
