"""A file source's explore (Amazon S3), before its flow: the path's folder listed, one of its files
previewed with the format the source connection will use, and the spec held to the columns the
preview shows (explore/cloud-storage.md).

- A file path is previewed itself. A folder (`orders/`) or a wildcard (`orders/*.csv`) is listed, and
  its first file (by name) that the wildcard matches is previewed; with `recursive`, subfolders are
  listed too, breadth first, at most MAX_LISTINGS folders.
- A folder that holds no matching file yet is a warning: the flow reads what arrives.
- A delimited or parquet file's header lists every column, so a mapped column it lacks fails the
  provisioning (SourceMismatch, before the flow), naming the column and the closest ones, as a
  table's does. A JSON file's preview is a sample of records: a mapped attribute it does not show is
  a warning, as for a REST source.
- A bucket, folder or file that is not there fails at `source.path`, naming what explore saw.
- An iam-role source whose files Adobe's role may not read (AEP's 403) fails with the statements the
  bucket's policy lacks, to add by hand (when aepflow may not add them, steps/bucket.py)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

from aepflow.aep import resources
from aepflow.aep.mapping import flatten_properties
from aepflow.core.errors import AepAuthError, AepNotFound, BucketPolicyRefused, SourceMismatch
from aepflow.spec import files, suggest
from aepflow.steps.bucket import grant_of
from aepflow.steps.context import Context

MAX_LISTINGS = 20  # folders listed while looking for a file to preview (recursive)
MAX_ITEMS = 1000  # of one folder listing, as S3 lists a page
MAX_COLUMNS = 2000  # of one preview, as ops/explore answers them


def _kind(item: dict[str, Any]) -> str:
    return str(item.get("type") or "").lower()  # `file`/`folder`; an older page prints `File`/`Folder`


def _first_file(ctx: Context, connection_id: str, folder: str, pattern: str, recursive: bool) -> str | None:
    """The path of the first file under `folder` (an AEP path ending with /) whose name matches `pattern`,
    looking into subfolders when `recursive`; None when there is none."""
    queue, listed = [folder], 0
    while queue and listed < MAX_LISTINGS:
        current = queue.pop(0)
        listed += 1
        items = resources.explore_folder(ctx.client, connection_id, current)[:MAX_ITEMS]
        found = sorted(str(i.get("path")) for i in items
                       if _kind(i) == "file" and isinstance(i.get("path"), str)
                       and fnmatch.fnmatchcase(str(i.get("name") or str(i["path"]).rsplit("/", 1)[-1]), pattern))
        if found:
            return found[0]
        if recursive:
            queue += sorted(str(i["path"]).rstrip("/") + "/" for i in items
                            if _kind(i) == "folder" and isinstance(i.get("path"), str))
    return None


def preview_columns(answer: Any) -> list[str]:
    """The column names of a file preview, in the shapes Adobe's pages print: {format: flat, schema:
    {columns}} (data-landing-zone.md), a bare [{name, type}] (explore/cloud-storage.md), or a hierarchical
    JSON schema (as a REST preview)."""
    if isinstance(answer, list):
        return [str(c["name"]) for c in answer[:MAX_COLUMNS] if isinstance(c, dict) and isinstance(c.get("name"), str)]
    if not isinstance(answer, dict):
        return []
    found = answer.get("schema")
    schema: dict[str, Any] = found if isinstance(found, dict) else {}
    if isinstance(schema.get("columns"), list):
        return [str(c["name"]) for c in schema["columns"][:MAX_COLUMNS]
                if isinstance(c, dict) and isinstance(c.get("name"), str)]
    return list(flatten_properties(schema))[:MAX_COLUMNS]


def _not_there(ctx: Context, what: str, refused: AepNotFound) -> SourceMismatch:
    message = f"{ctx.resolved.label} has no {what} (bucket {ctx.spec.source.bucket!r})"
    return SourceMismatch(message, code=refused.code, request_id=refused.request_id,
                          problems=[{"path": "source.path", "message": message}])


def _role_refused(ctx: Context, refused: AepAuthError) -> BucketPolicyRefused:
    """AEP's refusal to read an iam-role source's files, with the statements its bucket policy lacks."""
    source = ctx.spec.source
    grant = grant_of(ctx)
    message = (f"Adobe's role may not read s3://{source.bucket}/{source.path} ({refused.message}). Add these "
               "statements to the bucket's policy by hand, or name the bucket in the stack's S3SourceBuckets for "
               f"aepflow to add them: {json.dumps(grant.statements, separators=(',', ':'))}")
    return BucketPolicyRefused(message, code=refused.code, request_id=refused.request_id, status=403,
                               statements=list(grant.statements),
                               problems=[{"path": "source.bucket", "message": "Adobe's role may not read the files"}])


def explore_files(ctx: Context, connection_id: str,
                  held_to_columns: Callable[[Context, str, str, list[str]], None]) -> dict[str, Any]:
    """Explore the spec's path and hold the spec to the preview's columns (the module's docstring);
    `held_to_columns` is the table check (steps/source.py), raising SourceMismatch. An iam-role source whose
    files Adobe's role may not read fails with the statements to add (BucketPolicyRefused)."""
    try:
        return _explore_files(ctx, connection_id, held_to_columns)
    except AepAuthError as refused:
        if refused.status != 403 or ctx.spec.source.access != "iam-role":
            raise
        raise _role_refused(ctx, refused) from None


def _explore_files(ctx: Context, connection_id: str,
                   held_to_columns: Callable[[Context, str, str, list[str]], None]) -> dict[str, Any]:
    spec, resolved = ctx.spec, ctx.resolved
    bucket, path = spec.source.bucket or "", spec.source.path or ""
    file_type, options = files.file_format(spec.source.format)
    target = files.aep_path(bucket, path)
    if files.is_folder(path):
        folder = files.aep_path(bucket, files.folder_of(path))
        pattern = path.rsplit("/", 1)[-1] or "*"
        try:
            found = _first_file(ctx, connection_id, folder, pattern, bool(spec.source.recursive))
        except AepNotFound as refused:
            raise _not_there(ctx, f"folder {folder}", refused) from None
        if found is None:
            ctx.journal.warn("explore-source", [{"path": "source.path", "message": (
                f"{target} holds no file yet{' (subfolders too)' if spec.source.recursive else ''}: the mapping "
                "is checked against the first file when one arrives, and the flow ingests what arrives")}])
            return {"columns": [], "file": None}
        target = found
    try:
        answer = resources.explore_file(ctx.client, connection_id, target, file_type, options)
    except AepNotFound as refused:
        raise _not_there(ctx, f"file {target}", refused) from None
    names = preview_columns(answer)
    if not names:
        raise SourceMismatch(f"{target} shows no columns as a {file_type} file"
                             + (f" ({', '.join(f'{k} {v}' for k, v in options.items())})" if options else ""),
                             problems=[{"path": "source.format", "message": f"{target} shows no columns"}])
    if resolved.tabular:  # delimited, parquet: the header lists every column
        held_to_columns(ctx, f"file {target!r}", target, names)
    else:  # a JSON file's preview is a sample: a mapped attribute it does not show is a warning
        tops = {name.split(".")[0] for name in names}
        warnings = [{"path": f"mapping[{i}].source", "message": (
            f"{rule.source!r} is not in {target}'s preview{suggest.did_you_mean(rule.source, names)}; the preview "
            "is a sample, so it is mapped anyway")}
            for i, rule in enumerate(spec.mapping)
            if rule.sourceType == "ATTRIBUTE" and rule.source not in names and rule.source.split(".")[0] not in tops]
        if warnings:
            ctx.journal.warn("explore-source", warnings)
    return {"columns": names, "file": target}
