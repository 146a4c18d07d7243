"""Flow Service's explore (GET /connections/{id}/explore): the tables or objects of the source a
base connection reaches (objectType=root), a table's columns (objectType=table, with its rows
when preview=true, only those a base64 PQL `filters` matches: filter.md, filters.py), and a REST
source's preview (objectType=rest, its sourceParams checked). What each source holds is
source_tables.py's; a file-based source's folders and files (explore/cloud-storage.md) are
cloud_storage.py's."""
from __future__ import annotations

import base64
import copy
import json

from . import filters
from .aep_errors import flow_error


class ExploreMixin:
    """Mixed into AepEmulator. State (set by the emulator): `_conn_specs` and `_source_tables`;
    `_explore_files` is cloud_storage.CloudStorageMixin's."""

    def _explore(self, sb, cid, query):
        conn = sb.connections.get(cid)
        if conn is None:
            raise flow_error(404, "1439", "Resource not found", f"Connection with id {cid} was not found")
        spec = self._conn_specs[conn["connectionSpec"]["id"]]
        if spec["_kind"] == "file":
            return self._explore_files(conn, spec, query)
        tables = self._source_tables.tables(spec)
        otype = str(query.get("objectType", "root")).lower()
        obj = query.get("object")
        if otype == "root":
            return 200, [{"type": "table", "name": n, "path": n, "canPreview": True, "canFetchSchema": True}
                         for n in tables], {}
        if otype == "table":
            if spec["_kind"] not in ("crm", "database"):
                raise flow_error(400, "1400", "Bad Request", f"objectType=table is not supported by {spec['name']}")
            if obj not in tables:
                raise flow_error(404, "1420", "Object not found", f"Table '{obj}' was not found")
            answer = copy.deepcopy(tables[obj])
            if query.get("filters"):  # filter.md "Preview your data": only the rows the PQL matches
                document = filters.decode(str(query["filters"]))
                filters.check_columns(filters.check(document, spec), answer["schema"]["columns"], obj)
                answer["data"] = filters.matching(answer.get("data") or [], document)
            # A table's structure is `format` and `schema` (explore/tabular.md); its rows come with
            # preview=true, as `data` (filter.md, "Preview your data").
            if str(query.get("preview", "")).lower() != "true":
                answer.pop("data", None)
            return 200, answer, {}
        if otype == "rest":
            if spec["_kind"] != "rest":
                raise flow_error(400, "1400", "Bad Request", f"objectType=rest is not supported by {spec['name']}")
            sp = {}
            if query.get("sourceParams"):
                try:
                    s = query["sourceParams"]
                    sp = json.loads(base64.b64decode(s + "=" * (-len(s) % 4)).decode())
                except Exception:
                    raise flow_error(400, "1400", "Bad Request", "sourceParams is not base64-encoded JSON") from None
            req = spec.get("sourceSpec", {}).get("spec", {}).get("required", []) or spec.get("_sourceParams", [])
            missing = [r for r in req if not sp.get(r)]
            if missing:
                raise flow_error(400, "1422", "Invalid source params", f"sourceParams missing {missing}")
            return 200, copy.deepcopy(self._source_tables.rest_preview(spec)), {}
        raise flow_error(400, "1400", "Bad Request", f"objectType '{query.get('objectType')}' is not supported")
