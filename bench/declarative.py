"""python -m bench declarative [--flows N]: what a plan and a drift check cost in AEP calls for N
managed flows (1,000 by default), on the local stack, measured in one run.

The flows are made in the emulator as provisioning makes them (a base, source and target connection,
a mapping set and a flow each, with aepflow's names and bodies) and recorded as the state machine
records them, so the plan and the drift check read what they read in production. Printed: the AEP
calls of one plan, of plans of all N at once, and of a drift check of all N, with nothing drifted
and with some flows changed behind aepflow's back; and the ratios calls/flow."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from typing import Any

import boto3

ORACLE = "d6b52d86-f0f8-475f-89d4-ce54c8527328"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
SCHEMA = "https://ns.adobe.com/acme/schemas/417a33eg81a221bd10495920574gfa2d"
DATASET = "5c8c3c555033b814b69f947f"


def spec_for(i: int) -> dict[str, Any]:
    return {"name": f"bench-oracle-{i:05d}", "description": f"bench dataflow {i}",
            "source": {"connector": "oracle", "credentialsSecret": "aep/sources/acme-oracle", "table": "ADMIN.E2E"},
            "target": {"schema": {"id": SCHEMA}, "dataset": {"id": DATASET}},
            "mapping": [{"source": "NAME", "destination": "person.name.fullName"},
                        {"source": "ID", "destination": "_id"}],
            "deltaColumn": {"name": "updatedAt", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"},
            "schedule": {"frequency": "minute", "interval": 15, "startTime": 1590523836, "backfill": True}}


def make_managed(stack, count: int) -> list[dict[str, Any]]:
    """`count` dataflows as provisioning leaves them: in the emulator and in the records."""
    from aepflow.aep import naming
    from aepflow.aep.mapping import mapping_set_body
    from aepflow.aep.resources import TARGET_SCHEMA_VERSION
    from aepflow.aep.schedule import schedule_params, schedule_params_for_request
    from aepflow.spec.model import DataflowSpec, ResolvedSource
    from aepflow.steps.validate import validate_spec
    from aepflow.store.keys import record_item as dataflow_record

    emu = stack.emulator
    sb = emu._sandboxes["prod"]
    table = boto3.resource("dynamodb").Table(stack.refs["DataflowsTable"])
    specs = []
    with emu._lock, table.batch_writer() as batch:
        for i in range(count):
            validated = validate_spec(spec_for(i))
            spec = DataflowSpec.model_validate(validated["spec"])
            resolved = ResolvedSource.model_validate(validated["resolved"])
            _, base, _ = emu._create_connection({
                "name": naming.base_connection(spec),
                "description": naming.base_connection_description(spec, resolved.label),
                "auth": {"specName": "ConnectionString", "params": {"connectionString": "Driver=Oracle;Password=x"}},
                "connectionSpec": {"id": ORACLE, "version": "1.0"}}, sb)
            _, source, _ = emu._create_source({
                "name": naming.source_connection(spec), "description": naming.source_connection_description(spec),
                "baseConnectionId": base["id"], "data": {"format": "tabular"}, "params": {"path": "ADMIN.E2E"},
                "connectionSpec": {"id": ORACLE, "version": "1.0"}}, sb)
            _, target, _ = emu._create_target({
                "name": naming.target_connection(spec), "description": naming.target_connection_description(spec),
                "data": {"schema": {"id": SCHEMA, "version": TARGET_SCHEMA_VERSION}}, "params": {"dataSetId": DATASET},
                "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}}, sb)
            _, mapping, _ = emu._create_mapping(mapping_set_body(
                name=naming.mapping_set(spec), schema_id=SCHEMA, rules=spec.mapping,
                dialect=resolved.mappingDialect), sb)
            _, flow, _ = emu._create_flow({
                "name": naming.dataflow(spec), "description": naming.flow_description(spec),
                "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"}, "sourceConnectionIds": [source["id"]],
                "targetConnectionIds": [target["id"]],
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": spec.deltaColumn.model_dump(exclude_none=True)}},
                    {"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": "0"}}],
                "scheduleParams": schedule_params_for_request(schedule_params(spec))}, sb)
            ids = {"baseConnectionId": base["id"], "sourceConnectionId": source["id"], "schemaId": SCHEMA,
                   "datasetId": DATASET, "targetConnectionId": target["id"], "mappingId": mapping["id"],
                   "flowId": flow["id"], "flowEtag": flow["etag"], "flowSpecId": CRM_TO_AEP}
            batch.put_item(Item=dataflow_record(spec.name, status="ACTIVE", connector="oracle", flowId=flow["id"],
                                                ids=json.dumps(ids), spec=json.dumps(validated["spec"]),
                                                executionId=f"bench:{spec.name}", updatedAt="2026-01-01T00:00:00Z"))
            specs.append({"spec": validated["spec"], "ids": ids})
    return specs


def _aep_calls(stack, mark: int) -> int:
    return sum("/ims/" not in r["path"] for r in stack.emulator.records[mark:])


def measure(stack, label: str, call) -> dict[str, Any]:
    mark, started = len(stack.emulator.records), time.perf_counter()
    result = call()
    return {"what": label, "aepCalls": _aep_calls(stack, mark),
            "methods": sorted({r["method"] for r in stack.emulator.records[mark:] if "/ims/" not in r["path"]}),
            "seconds": round(time.perf_counter() - started, 3), "result": result}


def _only(report: Any, keys: set[str]) -> dict[str, Any]:
    """The drift report's `keys`."""
    return {k: v for k, v in asdict(report).items() if k in keys}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench declarative")
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--drifted", type=int, default=10, help="flows changed behind aepflow's back")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out, sys.stdout = sys.stdout, sys.stderr  # the layer's logs go to stderr; the figures to stdout
    try:
        from local.stack import LocalStack

        with LocalStack() as stack:
            from aepflow.ops import drift
            from aepflow.ops.plan import read as plan_read

            made = make_managed(stack, args.flows)
            specs = [m["spec"] for m in made]
            rows = [
                measure(stack, "plan of one spec (no change)", lambda: plan_read.of(specs[0])["action"]),
                measure(stack, f"plans of {args.flows} specs at once (no change)",
                        lambda: sorted({p["action"] for p in plan_read.make_many(specs)})),
                measure(stack, f"drift check of {args.flows} flows (none drifted)",
                        lambda: _only(drift.check(topic_arn=""), {"checked", "drifted", "listCalls"})),
            ]
            for m in made[:args.drifted]:
                stack.emulator.ui_action(m["ids"]["flowId"], "DISABLE")
            rows.append(measure(stack, f"drift check of {args.flows} flows ({args.drifted} disabled in the UI)",
                                lambda: _only(drift.check(topic_arn=""), {"checked", "drifted", "alerted"})))
            rows.append(measure(stack, "the same drift check again (nothing new: no alert)",
                                lambda: _only(drift.check(topic_arn=""), {"drifted", "alerted", "unchanged"})))
    finally:  # `python -m bench` runs the next bench in this process
        sys.stdout = out
    for row in rows:
        per_flow = row["aepCalls"] / args.flows
        out.write(f"{row['what']:<58} {row['aepCalls']:>6} AEP calls ({', '.join(row['methods'])}), "
                  f"{per_flow:.3f}/flow, {row['seconds']:.2f}s  {json.dumps(row['result'])}\n")
    one, many = rows[0]["aepCalls"], rows[1]["aepCalls"]
    out.write(f"\nplans in bulk: {many} calls for {args.flows} flows against {one * args.flows} for one plan each "
              f"({one * args.flows / max(many, 1):.0f}x fewer)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
