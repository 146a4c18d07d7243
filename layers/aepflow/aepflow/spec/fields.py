"""The bounds every field of the spec is held to: the patterns of names and ids (and what a refused one
means, in words), and bounded text with no control, bidirectional or zero-width characters."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# A dataflow's name: its key everywhere (the spec, the API's paths, the command's arguments).
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Catalog dataset ids are 24 hexadecimal characters (catalog.yaml's examples, the seeds).
DATASET_ID_PATTERN = r"^[0-9a-f]{24}$"
# A tenant schema: its $id (https://ns.adobe.com/<tenant>/schemas/<id>) or its meta:altId
# (_<tenant>.schemas.<id>), as the Schema Registry answers them (schema-registry.yaml, seed 004);
# the id is hexadecimal in AEP's answers, but seed 001's is not (417a33eg81a...), so letters too.
SCHEMA_ID_PATTERN = (r"^(https://ns\.adobe\.com/[A-Za-z0-9_]{1,64}/schemas/[A-Za-z0-9]{1,64}"
                     r"|_[A-Za-z0-9_]{1,64}\.schemas\.[A-Za-z0-9]{1,64})$")
# An XDM class or field group: a standard one (https://ns.adobe.com/xdm/...) or a tenant's.
# No segment starts with a dot, so there is no . or .. in it.
XDM_REF_PATTERN = r"^https://ns\.adobe\.com(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}){2,9}$"
SANDBOX_PATTERN = r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$"
FLOW_SPEC_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,63}$"
MIN_INTERVAL = {"minute": 15, "hour": 1, "day": 1, "week": 1}
# Identity namespace codes (Identity Service): standard ones such as Email, Phone, ECID, CRMID, or
# an org's own; xdm:namespace of an identity descriptor takes the code (xdm/api/descriptors.md).
NAMESPACE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
# Adobe's OpenAPI specs give no lengths for these texts; these bounds are aepflow's.
SHORT, LONG = 256, 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
MAX_START_TIME = 10_000_000_000  # epoch seconds in 2286; anything larger is milliseconds
MAX_INTERVAL = 100_000


# What a refused pattern means, in words (pydantic would print the regular expression).
PATTERN_MESSAGES = {
    NAME_PATTERN: "must be 2 to 64 lower-case letters, digits and -, starting and ending with a letter or digit",
    UUID_PATTERN: "must be a UUID, e.g. 6990abad-977d-41b9-a85d-17ea8cf1c0e4",
    DATASET_ID_PATTERN: "must be a Catalog dataset id: 24 hexadecimal characters, e.g. 5c8c3c555033b814b69f947f",
    SCHEMA_ID_PATTERN: ("must be a tenant schema's $id (https://ns.adobe.com/<tenant>/schemas/<id>) "
                        "or meta:altId (_<tenant>.schemas.<id>)"),
    XDM_REF_PATTERN: "must be an XDM class or field group URI under https://ns.adobe.com/",
    SANDBOX_PATTERN: "must be a sandbox name: lower-case letters, digits and -",
    FLOW_SPEC_PATTERN: "must be a flow spec name, e.g. CRMToAEP",
    NAMESPACE_PATTERN: "must be an identity namespace code, e.g. Email",
}


# Characters that change how text is shown without being seen: bidirectional embeddings, overrides,
# isolates and marks (Unicode's Bidi_Control), and zero-width spaces, joiners and the BOM. A name or
# description with them reads one way in the AEP UI and another in a log (CVE-2021-42574).
_INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed in text")
    found = _INVISIBLE.search(value)
    if found:
        raise ValueError(f"invisible or bidirectional control character U+{ord(found.group()):04X} is not "
                         "allowed in text")
    return value


ShortText = Annotated[str, StringConstraints(min_length=1, max_length=SHORT), AfterValidator(_printable)]
LongText = Annotated[str, StringConstraints(max_length=LONG), AfterValidator(_printable)]


class SpecModel(BaseModel):
    """What every model of the spec is: strict (a number is never text, a boolean never a number, "yes" never
    true), closed (an unknown field is refused) and built when first needed (defer_build: a module that
    parses specs builds them at import, spec.parse.build_models; the steps after validation never do)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)
