"""A file-based source (Amazon S3): its bucket, the path of its files in the bucket and their format,
held to what AEP and S3 take before any call, and the forms AEP and S3 take them in.

What Adobe documents (../shared/reference/connection-specs/s3.json, collect/cloud-storage.md):
- a source connection's `data.format` is delimited, json or parquet; `data.properties` may give
  `columnDelimiter` (one character, delimited files only), `encoding` (UTF-8 or ISO-8859-1, delimited
  files only) and `compressionType` (bzip2, gzip, deflate, zipDeflate, tarGzip or tar; delimited or
  JSON files only);
- `params.path` names one file or, with an asterisk in place of a file name (`/acme/summerCampaign/
  *.csv`), a folder's files; `params.type` is `file` or `folder`; `params.recursive: true` reads a
  folder's subfolders too. Explore's paths start with the bucket (`/test-connectors/testFolder-
  fileIngestion/account.csv`), and so does the params.path aepflow sends.

A spec's `path` is inside its `bucket`: a file (`orders/2024-05.csv`), a folder (`orders/`, ending
with /) or a folder's files by a wildcard in the last segment (`orders/*.csv`). It never starts with
/ or s3://, and holds no `.` or `..` segment, so that it cannot name another bucket or leave the prefix
the bucket policy grants. Bucket names follow S3's rules (docs.aws.amazon.com/AmazonS3/latest/
userguide/bucketnamingrules.html).

No pydantic here: the steps after validation read these (spec/source.py holds the models)."""

from __future__ import annotations

import re

FILE_TYPES = ("delimited", "json", "parquet")
COMPRESSIONS = ("bzip2", "gzip", "deflate", "zipDeflate", "tarGzip", "tar")
ENCODINGS = ("UTF-8", "ISO-8859-1")
MAX_KEY_BYTES = 1024  # an S3 object key's limit
# access: iam-role is this auth spec of Amazon S3 (Experience Platform on AWS; s3.json), whose role
# GET /connectionSpecs/{id}/configs?authType=IAM_ROLE_CONFIG answers.
IAM_ROLE_AUTH = "IAMRole Based"
IAM_ROLE_CONFIG = "IamBasedAuthentication"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\{}^%`\[\]\"<>~#|]")


def bucket_problem(name: str) -> str | None:
    """Why `name` is not an S3 bucket name (S3's naming rules), or None."""
    if not _BUCKET.match(name):
        return ("is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and "
                "ending with a letter or digit")
    if ".." in name or ".-" in name or "-." in name:
        return "is not an S3 bucket name: no two adjacent dots, and no dot beside a hyphen"
    if _IP_ADDRESS.match(name):
        return "is not an S3 bucket name: it is formatted as an IP address"
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        return "is not an S3 bucket name: S3 reserves its prefix or suffix"
    return None


def path_problem(path: str) -> str | None:
    """Why `path` does not name files inside the bucket, or None."""
    if path.startswith(("s3://", "s3a://", "/")):
        return ("is outside the bucket as written: give the path inside `bucket`, without / or s3:// in front "
                "(e.g. orders/2024-05.csv, orders/ or orders/*.csv)")
    if len(path.encode("utf-8")) > MAX_KEY_BYTES:
        return f"is longer than an S3 key ({MAX_KEY_BYTES} bytes)"
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "holds a . or .. segment: a path stays inside the bucket and the prefix it names"
    if any(segment == "" for segment in segments[:-1]):
        return "holds an empty segment (//)"
    found = _KEY_CHARS.search(path)
    if found:
        return f"holds {found.group()!r}, which S3 keys should not (and AEP paths cannot) carry"
    if "*" in "/".join(segments[:-1]):
        return "has a wildcard before its last segment: only the file name may hold * (e.g. orders/*.csv)"
    return None


def is_folder(path: str) -> bool:
    """A folder (the path ends with /) or a folder's files by a wildcard: AEP's params.type `folder`."""
    return path.endswith("/") or "*" in path


def aep_path(bucket: str, path: str) -> str:
    """params.path as AEP takes and explore answers it: /<bucket>/<path>."""
    return f"/{bucket}/{path}"


def folder_of(path: str) -> str:
    """The folder (key prefix, ending with / or empty for the bucket's root) that holds the path's files."""
    return path if path.endswith("/") else path.rsplit("/", 1)[0] + "/" if "/" in path else ""


def file_format(fmt: object) -> tuple[str, dict[str, str]]:
    """(data.format, data.properties) of a spec's `format`: its shorthand (`format: delimited`) or its
    object, as the model (FileFormat) or a step's View gives it. data.properties are also the options of
    explore's file preview."""
    if isinstance(fmt, str) or fmt is None:
        return str(fmt or "delimited"), {}
    properties = {"columnDelimiter": getattr(fmt, "delimiter", None),
                  "compressionType": getattr(fmt, "compression", None), "encoding": getattr(fmt, "encoding", None)}
    return str(getattr(fmt, "type", "delimited")), {k: v for k, v in properties.items() if v is not None}
