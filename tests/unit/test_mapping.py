"""Mapping sets in the two dialects of the seeds, shaped as data-prep.yaml defines them."""

from aepflow.aep.mapping import flatten_properties, mapping_set_body
from aepflow.spec.model import MappingRule
from local.aep_contract import Contract

SCHEMA = "https://ns.adobe.com/acme/schemas/719c4e19184402c27595e65b931a142b"
RULES = [MappingRule(source="TestID", destination="_id", identity=True),
         MappingRule(source="Name", destination="person.name.fullName", name="name", description="the name")]


def test_attribute_dialect_matches_seed_000():
    body = mapping_set_body(name="m", schema_id=SCHEMA, rules=RULES, dialect="attribute")
    assert body["mappings"][0] == {"destinationXdmPath": "_id", "sourceAttribute": "TestID", "identity": True,
                                   "version": 0}
    assert "id" not in body and body["xdmSchema"] == SCHEMA and body["outputSchema"]["schemaRef"]["id"] == SCHEMA


def test_source_dialect_matches_seeds_002_and_003():
    body = mapping_set_body(name="m", schema_id=SCHEMA, rules=RULES, dialect="source")
    assert body["mappings"][1] == {"sourceType": "ATTRIBUTE", "source": "Name", "destination": "person.name.fullName",
                                   "name": "name", "description": "the name"}
    # An identity stays an identity in the REST dialect too.
    assert body["mappings"][0] == {"sourceType": "ATTRIBUTE", "source": "TestID", "destination": "_id",
                                   "identity": True}


def test_both_dialects_validate_against_the_data_prep_spec():
    contract = Contract.load()
    headers = {"Authorization": "Bearer t", "x-api-key": "k", "x-gw-ims-org-id": "o", "x-sandbox-name": "prod",
               "Content-Type": "application/json"}
    for dialect in ("attribute", "source"):
        body = mapping_set_body(name="m", schema_id=SCHEMA, rules=RULES, dialect=dialect)
        assert contract.validate_request("POST", "/data/foundation/conversion/mappingSets", {}, headers, body) == []


def test_explored_schema_flattens_to_attribute_paths():
    schema = {"type": "object", "properties": {"results": {"type": "object", "properties": {
        "id": {"type": "integer"}, "tags": {"type": "array"}, "org": {"type": "object", "properties": {
            "name": {"type": "string"}}}}}}}
    assert flatten_properties(schema) == ["results.id", "results.tags", "results.org.name"]


def test_mapping_set_names_follow_the_mapping_and_the_target_schema():
    from aepflow.aep import naming
    from aepflow.spec.parse import parse_spec
    from local.examples import example

    base = parse_spec(example("004"))
    again = parse_spec(example("004"))
    assert naming.mapping_set(base) == naming.mapping_set(again)  # a retry finds its own
    assert naming.mapping_set(base).startswith("aepflow:acme-oracle-e2e:mapping:")
    remapped = example("004")
    remapped["mapping"][0]["destination"] = "person.name.firstName"
    retargeted = example("004")
    retargeted["target"]["schema"] = {"id": "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168"}
    names = {naming.mapping_set(base), naming.mapping_set(parse_spec(remapped)),
             naming.mapping_set(parse_spec(retargeted))}
    assert len(names) == 3
    described = example("004")
    described["description"] = "only the description changed"
    assert naming.mapping_set(parse_spec(described)) == naming.mapping_set(base)
