"""Read template.yaml (with CloudFormation's short tags) and resolve the intrinsics the
local stack needs. The local stack never keeps a second copy of the wiring."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


# libyaml's safe loader when PyYAML was built with it (several times faster), with the short tags.
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}
    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in ("GetAtt", "Sub", "If", "Join", "Select", "Equals", "Not", "And", "Or", "FindInMap", "Base64",
               "Split", "ImportValue", "GetAZs"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Resolve Ref, Fn::GetAtt and Fn::Sub against `refs` ("Name" and "Name.Attr" keys)."""
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return refs[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        return refs[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        text, extra = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        scope = {**refs, **{k: resolve(v, refs) for k, v in extra.items()}}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(scope[m.group(1)]), text)
    return {k: resolve(v, refs) for k, v in value.items()}


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: p.get("Default") for name, p in template.get("Parameters", {}).items()}


def table_kwargs(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """create_table arguments for a DynamoDB table of the template, indexes included."""
    props = template["Resources"][logical_id]["Properties"]
    kwargs = {"TableName": table_name, "BillingMode": props["BillingMode"],
              "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"]}
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return kwargs


def role_statements(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """Every IAM statement the role of a function or state machine gets from its `Policies`:
    inline statements, the template's managed policies it attaches, and SAM policy templates
    expanded (from aws-sam-translator's own policy_templates.json)."""
    found: list[dict[str, Any]] = []
    for policy in template["Resources"][logical_id]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            managed = template["Resources"][policy["Ref"]]
            if managed["Type"] != "AWS::IAM::ManagedPolicy":
                raise ValueError(f"{logical_id}: {policy['Ref']} is not a managed policy of the template")
            found += managed["Properties"]["PolicyDocument"]["Statement"]
        elif isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
        elif isinstance(policy, dict) and len(policy) == 1:
            (name, params), = policy.items()
            found += _sam_policy_template(name, params)
        else:
            raise ValueError(f"{logical_id}: a policy by name ({policy!r}) cannot be read from the template")
    return found


def _sam_policy_template(name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    import samtranslator  # a cfn-lint dependency; only the template checks need it

    templates = json.loads((Path(samtranslator.__file__).parent / "policy_templates_data"
                            / "policy_templates.json").read_text())["Templates"]

    def substitute(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in params:
                return params[node["Ref"]]
            return {k: substitute(v) for k, v in node.items()}
        if isinstance(node, list):
            return [substitute(v) for v in node]
        return node
    return substitute(templates[name]["Definition"]["Statement"])
