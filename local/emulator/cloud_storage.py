"""Amazon S3 as a file-based source (family `file`, flow spec CloudStorageToAEP), read from the
local stack's own S3 (moto, in this process): explore of a base connection (explore/cloud-storage.md:
objectType root, folder, file), the source connection's data and params (collect/cloud-storage.md,
"Create a source connection"), and Adobe's IAM role for an "IAMRole Based" connection
(GET /connectionSpecs/{id}/configs, create/cloud-storage/s3.md). A file's preview is
file_preview.py's, a bucket policy's evaluation bucket_policy.py's.

Paths are /<bucket>/<key>, as the pages print them (`/acme/summerCampaign/account.csv`, a folder
listing's `/test-connectors/testFolder-fileIngestion/account.csv`). The emulator reads with the
stack's S3 client (`object_store`, a zero-argument callable AepEmulator is given; moto takes any
keys, so an "Access Key" connection's keys are not checked against S3). An "IAMRole Based"
connection reads only what the bucket's policy lets ADOBE_IAM_ROLE do.
"""
from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from . import file_preview, preloaded
from .aep_errors import flow_error
from .bucket_policy import allows
from .file_preview import OptionRefused

# What GET /connectionSpecs/ecadc60c-…/configs?authType=IamBasedAuthentication answers as
# configParams.IAMRole. INVENTED: the page prints only the placeholder "{IAM_ROLE}" (s3.json
# iamRole.configsResponse); the account is made up and is not the local stack's 123456789012.
ADOBE_IAM_ROLE = "arn:aws:iam::210987654321:role/aep-local-emulator-s3-source"
# connection spec id -> authType -> configParams (s3.json iamRole: configsApiFormat, configsResponse).
CONFIGS = {preloaded.S3: {"IamBasedAuthentication": {"IAMRole": ADOBE_IAM_ROLE}}}
IAM_ROLE_AUTH = "IAMRole Based"
MAX_PATH = 1100  # a bucket name (63) and a key (1024 bytes), with their slashes
MAX_LISTED = 1000  # one ListObjectsV2 page
FORMATS = ("delimited", "json", "parquet")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's bucket naming rules


class PathRefused(ValueError):
    """A path that is not /<bucket>/<key>; the message says why, its caller names the field."""


def _folder_item(name: str, path: str) -> dict:
    # The Data Landing Zone root prints a folder {type: "folder", name, path, canPreview: false,
    # canFetchSchema: false} (data-landing-zone.md); the newest explore page a file as below.
    return {"type": "folder", "name": name, "path": path, "canPreview": False, "canFetchSchema": False}


def _file_item(name: str, path: str) -> dict:
    # explore/cloud-storage.md (newest en @98e2c39d): every file, its .parquet included, previewable.
    return {"type": "file", "name": name, "path": path, "canPreview": True, "canFetchSchema": True}


def split_path(value: Any) -> tuple[str, str]:
    """(bucket, key or prefix) of a path /<bucket>/<rest>; PathRefused otherwise."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_PATH:
        raise PathRefused(f"must be a path /<bucket>/<key> of at most {MAX_PATH} characters")
    bucket, _, rest = value[1:].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise PathRefused(f"{value[:80]!r} does not start with a bucket name")
    return bucket, rest


def _explored_path(value: Any) -> tuple[str, str]:
    try:
        return split_path(value)
    except PathRefused as e:
        raise flow_error(400, "1437", "Invalid path", f"object {e}") from None


def _not_found(path: str):
    return flow_error(404, "1420", "Object not found", f"{path} was not found")


class CloudStorageMixin:
    """Mixed into AepEmulator. State: `_object_store` (None, or a callable answering a boto3 S3
    client) and `adobe_iam_role`, set by _cloud_storage_init."""

    def _cloud_storage_init(self, object_store) -> None:
        self._object_store = object_store
        self.adobe_iam_role = ADOBE_IAM_ROLE

    # ------------------------------------------------------------ configs
    def _connection_spec_configs(self, spec_id: str, query: dict):
        """flow-service.yaml configByConnectionSpecId; create/cloud-storage/s3.md ("Retrieve the IAM
        role"): ?authType=IamBasedAuthentication answers {"configParams": {"IAMRole": ...}}."""
        if spec_id not in self._conn_specs:
            raise flow_error(404, "1439", "Resource not found", f"No connection spec found with id {spec_id}")
        auth_type = query.get("authType")
        offered = CONFIGS.get(spec_id, {})
        if not isinstance(auth_type, str) or auth_type not in offered:
            raise flow_error(400, "1438", "No configs",
                             f"Connection spec {spec_id} has no configs for authType {str(auth_type)[:60]!r}"
                             + (f"; it has them for {sorted(offered)}" if offered else ""))
        return 200, {"configParams": dict(offered[auth_type])}, {}

    # ------------------------------------------------------------ reach
    def _s3(self):
        if self._object_store is None:
            raise flow_error(501, "1501", "Not Implemented",
                             "the local stack has no S3: this emulator was started without an object store "
                             "(AepEmulator(object_store=...)), so it cannot explore an Amazon S3 connection")
        return self._object_store()

    @staticmethod
    def _scope(conn: dict) -> tuple[bool, str | None, str]:
        """(IAM role?, the bucket the connection is narrowed to or None, the folder prefix in it).
        "IAMRole Based" names its bucket; an "Access Key" connection may name bucketName and folderPath
        (s3.md's credential table: "specify the bucket ... as myBucket and the folderPath as
        folder/subfolder to ensure that file exploration starts at subfolder")."""
        auth = conn.get("auth") or {}
        params = auth.get("params") or {}
        bucket = params.get("bucketName") or None
        folder = str(params.get("folderPath") or "").strip("/") if bucket else ""
        return auth.get("specName") == IAM_ROLE_AUTH, bucket, folder + "/" if folder else ""

    def _check_reach(self, conn: dict, bucket: str, key: str, path: str) -> None:
        _, narrowed, folder = self._scope(conn)
        if narrowed is not None and (bucket != narrowed or not (key + "/").startswith(folder)):
            raise flow_error(400, "1437", "Path outside the connection",
                             f"{path[:200]} is outside /{narrowed}/{folder}, which this connection reaches")

    def _authorize(self, s3, conn: dict, action: str, bucket: str, key: str, prefix: str | None = None) -> None:
        """For an "IAMRole Based" connection: the bucket policy allows ADOBE_IAM_ROLE `action`, else a
        403 (FLOW-1436-403) naming the bucket and the action."""
        if not self._scope(conn)[0]:
            return
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code == "NoSuchBucket":
                raise _not_found(f"Bucket {bucket}") from None
            if code != "NoSuchBucketPolicy":
                raise
            policy = {}
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if action == "s3:GetObject" else "")
        context = {"s3:prefix": prefix} if prefix is not None else {}
        if not allows(policy, self.adobe_iam_role, action, resource, context):
            where = f" with prefix {prefix!r}" if prefix is not None else ""
            raise flow_error(403, "1436", "Access denied",
                             f"Access Denied: the bucket policy of {bucket} does not allow {self.adobe_iam_role} "
                             f"{action} on {resource}{where}")

    # ------------------------------------------------------------ explore
    def _explore_files(self, conn: dict, spec: dict, query: dict):
        """GET /connections/{id}/explore for a file-based source (explore/cloud-storage.md)."""
        if spec.get("_connector") != "s3":
            raise flow_error(501, "1501", "Not Implemented", f"explore of {spec['name']} is not emulated")
        otype = str(query.get("objectType", "root")).lower()
        obj = query.get("object")
        if otype == "file":
            options = file_preview.file_options(query)  # refused before anything is read
            return 200, self._explore_file(conn, obj, options, str(query.get("preview", "")).lower() == "true"), {}
        if otype == "folder" and obj == "root":
            # The newest page lists a connection's files with objectType=folder&object=root
            # (explore/cloud-storage.md, "folderRequest"): the folder exploration starts at.
            _, bucket, folder = self._scope(conn)
            if bucket is None:
                return 200, self._explore_root(conn), {}
            return 200, self._explore_folder(conn, f"/{bucket}/{folder}"), {}
        if otype == "folder":
            if not isinstance(obj, str):
                raise flow_error(400, "1400", "Bad Request", "objectType=folder needs object, the folder's path")
            return 200, self._explore_folder(conn, obj), {}
        if otype == "root":
            return 200, self._explore_root(conn), {}
        raise flow_error(400, "1400", "Bad Request",
                         f"objectType {str(query.get('objectType'))[:40]!r} is not supported by {spec['name']}: "
                         "root, folder or file")

    def _explore_root(self, conn: dict) -> list[dict]:
        """The bucket(s) the connection reaches, as folders: its bucket (and folder), else every bucket."""
        s3 = self._s3()
        _, bucket, folder = self._scope(conn)
        if bucket is None:
            names = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))
            return [_folder_item(n, f"/{n}/") for n in names]
        self._authorize(s3, conn, "s3:ListBucket", bucket, "", prefix="")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchBucket"):
                raise _not_found(f"Bucket {bucket}") from None
            raise
        name = folder.rstrip("/").rsplit("/", 1)[-1] if folder else bucket
        return [_folder_item(name, f"/{bucket}/{folder}")]

    def _explore_folder(self, conn: dict, path: str) -> list[dict]:
        """A folder's direct children (ListObjectsV2 with Delimiter "/"), folders first."""
        bucket, prefix = _explored_path(path)
        prefix = prefix + "/" if prefix and not prefix.endswith("/") else prefix
        self._check_reach(conn, bucket, prefix.rstrip("/"), path)
        s3 = self._s3()
        self._authorize(s3, conn, "s3:ListBucket", bucket, "", prefix=prefix)
        try:
            page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=MAX_LISTED)
        except ClientError as e:
            if e.response["Error"]["Code"] == "NoSuchBucket":
                raise _not_found(f"Bucket {bucket}") from None
            raise
        folders = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        files = [o["Key"] for o in page.get("Contents", []) if o["Key"] != prefix]
        if prefix and not folders and not page.get("Contents"):
            raise _not_found(f"Folder /{bucket}/{prefix}")
        return ([_folder_item(p[len(prefix):].rstrip("/"), f"/{bucket}/{p}") for p in folders]
                + [_file_item(k[len(prefix):], f"/{bucket}/{k}") for k in files])

    def _explore_file(self, conn: dict, path: Any, options: file_preview.FileOptions, with_rows: bool) -> dict:
        bucket, key = _explored_path(path)
        if not key or key.endswith("/"):
            raise flow_error(400, "1437", "Invalid path", f"object {str(path)[:80]!r} names a folder, not a file")
        self._check_reach(conn, bucket, key, path)
        s3 = self._s3()
        self._authorize(s3, conn, "s3:GetObject", bucket, key)
        try:
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
            if options.file_type == "parquet":
                # The runtime has no parquet reader: say so rather than make up columns.
                raise flow_error(501, "1501", "Not Implemented",
                                 f"the local emulator does not preview parquet files ({path}); AEP does")
            extra = {"Range": f"bytes=0-{file_preview.MAX_READ - 1}"} if size > file_preview.MAX_READ else {}
            raw = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read(file_preview.MAX_READ)
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NoSuchBucket"):
                raise _not_found(str(path)) from None
            raise
        answer = file_preview.preview(raw, size <= file_preview.MAX_READ, options)
        if not with_rows:
            answer.pop("data")  # a file's structure; its rows come with preview=true
        return answer

    # ------------------------------------------------------------ source connections
    def _check_file_source(self, body: dict, base: dict) -> None:
        """POST /sourceConnections of a file-based source, held to collect/cloud-storage.md's property
        table (newest en @fd522952); each refusal (FLOW-1422-400) names its field."""
        def bad(field: str, why: str):
            return flow_error(400, "1422", "Invalid source params", f"{field}: {why}")

        data, params = body.get("data") or {}, body.get("params") or {}
        if not isinstance(data, dict) or not isinstance(params, dict):
            raise bad("data" if not isinstance(data, dict) else "params", "must be an object")
        # data.columnDelimiter is the older page's place for it (en @019ab4ea); data.schema the S3
        # parquet page's (cloud-storage-parquet.md).
        for field in sorted(set(data) - {"format", "properties", "columnDelimiter", "schema"}):
            raise bad(f"data.{field}", "is not a property of a cloud storage source connection")
        fmt = data.get("format")
        # "Supported values are: delimited, JSON, and parquet" (the enum table: json).
        if not isinstance(fmt, str) or fmt.lower() not in FORMATS:
            raise bad("data.format", f"must be one of {list(FORMATS)}, not {str(fmt)[:40]!r}")
        fmt = fmt.lower()
        if data.get("schema") is not None and not isinstance(data["schema"], dict):
            raise bad("data.schema", "must be an object")
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            raise bad("data.properties", "must be an object")
        for field in sorted(set(props) - {"columnDelimiter", "encoding", "compressionType"}):
            raise bad(f"data.properties.{field}", "is not one of columnDelimiter, encoding, compressionType")
        checks = [("data.columnDelimiter", data, "columnDelimiter", file_preview.column_delimiter),
                  ("data.properties.columnDelimiter", props, "columnDelimiter", file_preview.column_delimiter),
                  ("data.properties.encoding", props, "encoding", file_preview.encoding),
                  ("data.properties.compressionType", props, "compressionType", file_preview.compression_type)]
        for field, holder, name, check in checks:
            if name not in holder:
                continue
            if not isinstance(holder[name], str):
                raise bad(field, "must be a string")
            if name in ("columnDelimiter", "encoding") and fmt != "delimited":
                raise bad(field, f"is for delimited files only, not {fmt}")
            if name == "compressionType" and fmt == "parquet":
                raise bad(field, "is for delimited or JSON files, not parquet")
            try:
                check(holder[name])
            except OptionRefused as e:
                raise bad(field, str(e)) from None
        self._check_file_params(params, base, bad)

    def _check_file_params(self, params: dict, base: dict, bad) -> None:
        for field in sorted(set(params) - {"path", "type", "recursive"}):
            raise bad(f"params.{field}", "is not one of path, type, recursive")
        if "path" not in params:
            raise bad("params.path", "is required: the file or folder to ingest, /<bucket>/<path>")
        try:
            bucket, rest = split_path(params["path"])
        except PathRefused as e:
            raise bad("params.path", str(e)) from None
        if params.get("type") is not None and params["type"] not in ("file", "folder"):
            raise bad("params.type", f"must be file or folder, not {str(params['type'])[:40]!r}")
        # recursive is a boolean (the newest page); the older one sends the string "true" (en @019ab4ea).
        recursive = params.get("recursive")
        if recursive is not None and not isinstance(recursive, bool) and recursive not in ("true", "false"):
            raise bad("params.recursive", "must be a boolean")
        iam, narrowed, folder = self._scope(base)
        if iam and bucket != narrowed:
            raise bad("params.path", f"is in bucket {bucket}, not {narrowed}, the bucket of the "
                                     f"IAMRole Based connection {base['id']}")
        if narrowed is not None and (bucket != narrowed or not (rest + "/").startswith(folder)):
            raise bad("params.path", f"is outside /{narrowed}/{folder}, which connection {base['id']} reaches")
