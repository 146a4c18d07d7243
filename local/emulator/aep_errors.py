"""AEP's error bodies, one shape per service, and the codes the emulator answers with.

Error bodies (FACTS §4):
  gateway      {"error_code": "401013", "message": ...}
  Flow Service {"type": ".../FLOW-<code>-<status>", "title", "status", "report": {...}, "errorMessage", "errorDetails"}
  Schema Reg.  {"type": ".../XDM-<code>-<status>", "title", "status", "report": {...}, "detail"}
  Catalog      {"type": ".../CAT-<code>-<status>", "title", "status", "detail"}
               (shape not in the spec; our choice)
  Data Prep    {"type": ".../MAPPER-<code>-<status>", "title", "status", "detail", "report"}
               (shape not in the spec; our choice)
Codes FACTS documents are used as documented (1401, 1403, 1404, 1418, 1366, 1367, 1307,
1432/1433, 1439, 1440…1453, XDM-1012-404, XDM-1007-400); the others are listed in INVENTED_CODES.

A service is named by its path prefix (FS, SR, CAT, DP): the gateway routes on it, and each
service answers its errors in its own shape (service_error).
"""
from __future__ import annotations

import time
import uuid

FS, CAT, SR, DP = ("/data/foundation/flowservice", "/data/foundation/catalog",
                   "/data/foundation/schemaregistry", "/data/foundation/conversion")
SERVICES = (FS, CAT, SR, DP)

# Codes with no documented counterpart; chosen here so every refusal is distinguishable.
INVENTED_CODES = {
    "FLOW-1400-400": "request does not match the OpenAPI contract / malformed parameter",
    "FLOW-1405-405": "method not defined for this path",
    "FLOW-1410-400": "referenced connectionSpec / flowSpec does not exist",
    "FLOW-1411-400": "auth.specName not one of the connection spec's authSpec names",
    "FLOW-1412-400": "auth.params do not satisfy the authSpec JSON Schema",
    "FLOW-1413-400": "base/source/target connection referenced by id does not exist",
    "FLOW-1414-400": "connectionSpec mismatch (source vs base connection, flow spec sourceConnectionSpecIds)",
    "FLOW-1415-400": "scheduleParams do not satisfy the flow spec's scheduleSpec",
    "FLOW-1416-400": "transformation not allowed / invalid for the flow spec",
    "FLOW-1417-400": "mappingId does not exist",
    "FLOW-1419-400": "params.dataSetId / data.schema.id does not exist",
    "FLOW-1420-404": "explore: unknown object/table",
    "FLOW-1421-400": "field cannot be changed by PATCH (sourceConnectionIds/targetConnectionIds/connectionSpec)",
    "FLOW-1422-400": "source connection params invalid for the connector",
    "FLOW-1423-400": "flow options do not satisfy the flow spec's optionSpec",
    "FLOW-1425-400": ("POST /runs for a flow not scheduled for one-time ingestion "
                      "(on-demand-ingestion.md says it must be)"),
    "FLOW-1426-400": ("POST /runs with a params.deltaColumn other than the flow's Copy deltaColumn "
                      "(on-demand-ingestion.md)"),
    "FLOW-1427-400": "POST /runs with a windowEndTime before its windowStartTime",
    "FLOW-1428-400": "re-trigger of a run in progress (retry-flows.md: only a run that has failed)",
    "FLOW-1429-400": "re-trigger of a run that did not fail and ingested records (retry-flows.md)",
    "FLOW-1430-400": "re-trigger of a run of a streaming flow (retry-flows.md: batch sources only)",
    "FLOW-1434-400": ("explore of a file: fileType missing or not delimited/json/parquet, an option the file type "
                      "does not take, an unknown compressionType or encoding, a columnDelimiter not one character "
                      "(explore/cloud-storage.md)"),
    "FLOW-1435-400": "explore of a file: the file does not decompress, decode or parse with the options given",
    "FLOW-1436-403": ("an IAMRole Based Amazon S3 connection: the bucket policy does not allow Adobe's role the "
                      "action (s3:GetObject, s3:ListBucket)"),
    "FLOW-1437-400": ("a cloud-storage path that is not /<bucket>/<key>, or outside the bucket and folder the "
                      "connection reaches"),
    "FLOW-1438-400": "GET /connectionSpecs/{id}/configs: no configs for this connection spec and authType",
    "FLOW-1470-400": ("POST /flows?mode=draft with a flow spec whose attributes.isDraftModeSupported is not true, or "
                      "a source connection spec whose is false (draft.md: check for draft mode support)"),
    "FLOW-1471-400": "op=publish of a flow that is not a draft (draft.md publishes drafts)",
    "FLOW-1472-400": "ENABLE, DISABLE or a run on demand of a draft flow (publish it first)",
    "FLOW-1460-400": ("params.filters or explore's filters: not a PQL document as filter.md prints one, a connection "
                      "spec whose attributes.filterAtSource is not enabled or does not list the operator, a column "
                      "the table lacks (filters.py)"),
    "FLOW-1501-501": ("defined by the spec or the docs but not emulated: an operation, a parquet file's preview, "
                      "an Amazon S3 explore on an emulator started without S3"),
    "XDM-1010-400": "allOf/meta:class references a class or field group that does not exist",
    "XDM-1011-409": "a schema with this title already exists in the sandbox",
    "XDM-1013-400": "schema is used by a dataset and cannot be deleted",
    "XDM-1014-400": "descriptor invalid (unknown @type / sourceSchema, a second primary identity)",
    "XDM-1015-404": "descriptor not found",
    "XDM-1016-400": "meta:immutableTags cannot be removed or replaced once set",
    "XDM-1000-400": "request does not match the OpenAPI contract",
    "XDM-1007-406": "Accept header missing (FACTS documents XDM-1007-400 for an invalid one)",
    "CAT-1000-400": "request does not match the contract / schemaRef.id unknown",
    "CAT-1002-404": "dataset not found",
    "CAT-1003-400": "a Profile-enabled dataset on a schema not enabled for Profile",
    "MAPPER-1000-400": "request does not match the contract / mapping invalid / schema unknown / a destination "
                       "that is not a field of the output schema, or is mapped twice",
    "MAPPER-1002-404": "mapping set not found",
    "GATEWAY 403027": "x-sandbox-name names no sandbox of the org",
    "GATEWAY 429001/500001/503001/504001": "injected faults",
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def gw_error(status, code, message):
    return ApiError(status, {"error_code": code, "message": message})


def flow_error(status, code, title, message):
    rid = str(uuid.uuid4())
    return ApiError(status, {
        "type": f"https://ns.adobe.com/aep/errors/FLOW-{code}-{status}", "title": title, "status": status,
        "report": {"detailed-message": message, "request-id": rid},
        "errorMessage": message, "errorDetails": {"code": f"{code}-{status}", "message": message},
    })


def xdm_error(status, code, title, message):
    return ApiError(status, {
        "type": f"http://ns.adobe.com/aep/errors/XDM-{code}-{status}", "title": title, "status": status,
        "report": {"registryRequestId": str(uuid.uuid4()), "timestamp": time.strftime("%m-%d-%Y %H:%M:%S"),
                   "detailed-message": message, "sub-errors": []},
        "detail": message,
    })


def cat_error(status, code, title, message):
    return ApiError(status, {"type": f"http://ns.adobe.com/aep/errors/CAT-{code}-{status}", "title": title,
                             "status": status, "detail": message})


def dp_error(status, code, title, message):
    return ApiError(status, {"type": f"http://ns.adobe.com/aep/errors/MAPPER-{code}-{status}", "title": title,
                             "status": status, "detail": message,
                             "report": {"detailed-message": message, "request-id": str(uuid.uuid4())}})


def service_error(prefix):
    """The error maker of the service at `prefix` (FS, SR, CAT or DP)."""
    return {FS: flow_error, SR: xdm_error, CAT: cat_error, DP: dp_error}[prefix]


def bad_request(prefix, message):
    """A 400 in the shape of the service at `prefix`, with its contract-refusal code."""
    code = {FS: "1400", SR: "1000", CAT: "1000", DP: "1000"}[prefix]
    return service_error(prefix)(400, code, "Bad Request", message)
