"""The spec's source: the connector and its account, and what to read (a table, a REST source's params,
or a file source's bucket, path and format; spec/files.py holds the rules of the last)."""

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from aepflow.spec import filters
from aepflow.spec.fields import FLOW_SPEC_PATTERN, UUID_PATTERN, ShortText, SpecModel
from aepflow.spec.files import bucket_problem, is_folder, path_problem
from aepflow.spec.filters import MAX_TEXT

_Model = SpecModel


class FileFormat(_Model):
    """How the files are written (the source connection's data.format and data.properties)."""

    type: Literal["delimited", "json", "parquet"] = Field(description=(
        "delimited (CSV, TSV, ...), json or parquet"), examples=["delimited"])
    delimiter: str | None = Field(default=None, min_length=1, max_length=1, description=(
        "delimited files only: the one character between columns; a comma by default"), examples=[","])
    compression: Literal["bzip2", "gzip", "deflate", "zipDeflate", "tarGzip", "tar"] | None = Field(
        default=None, description="delimited or JSON files only: how they are compressed", examples=["gzip"])
    encoding: Literal["UTF-8", "ISO-8859-1"] | None = Field(default=None, description=(
        "delimited files only: their text encoding; UTF-8 by default"), examples=["UTF-8"])

    @field_validator("type", mode="before")
    @classmethod
    def _csv_is_delimited(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in ("csv", "tsv", "psv", "txt"):
            raise ValueError(f"{value} files are type delimited (with delimiter for other than a comma); AEP's "
                             "data.format is delimited, json or parquet")
        return value

    @field_validator("delimiter", "encoding")
    @classmethod
    def _delimited_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if value is not None and kind is not None and kind != "delimited":
            what = "columnDelimiter" if info.field_name == "delimiter" else "encoding"
            raise ValueError(f"{kind} files take no {info.field_name}: AEP takes {what} for delimited files only "
                             "(collect/cloud-storage.md)")
        if info.field_name == "delimiter" and value is not None and (value in "\r\n\"" or not value.isprintable()
                                                                     and value != "\t"):
            raise ValueError(f"{value!r} cannot separate columns")
        return value

    @field_validator("compression")
    @classmethod
    def _not_parquet(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("type") == "parquet":
            raise ValueError("parquet files take no compression: AEP takes compressionType for delimited or JSON "
                             "files only (collect/cloud-storage.md)")
        return value


class Column(_Model):
    """A source column, for CRM sources whose columns are given rather than explored."""

    name: ShortText = Field(description="The column's name in the source", examples=["Datefield"])
    type: ShortText = Field(default="string", description="The column's type in the source", examples=["string"])
    xdmType: ShortText | None = Field(default=None, description="The XDM type it maps to; date and date-time "
                                                                "become meta:xdmType", examples=["date-time"])


class Source(_Model):
    """Where the data comes from: the connector, its account, and what to read."""

    connector: ShortText | None = Field(default=None, description="A connector of the catalog (`aepflow "
                                        "connectors` lists them); or give connectionSpecId", examples=["salesforce"])
    connectionSpecId: str | None = Field(default=None, pattern=UUID_PATTERN, description=(
        "The source's connection spec id, for a connector named by id (the catalog's, or any other)"),
        examples=["cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"])
    authSpecName: ShortText | None = Field(default=None, description=(
        "Which of the connector's auth specs the secret holds; by default the one its keys satisfy"),
        examples=["Basic Authentication"])
    flowSpec: str | None = Field(default=None, pattern=FLOW_SPEC_PATTERN, description=(
        "The flow spec by name; by default the connector's (CRMToAEP, RestStorageToAEP)"), examples=["CRMToAEP"])
    baseConnectionId: str | None = Field(default=None, pattern=UUID_PATTERN, description=(
        "An existing base connection (account) to reuse; or give credentialsSecret"),
        examples=["6990abad-977d-41b9-a85d-17ea8cf1c0e4"])
    credentialsSecret: ShortText | None = Field(default=None, description=(
        "A Secrets Manager secret (name or ARN) under the stack's source-secrets prefix, holding the auth "
        "params as a JSON object; aepflow creates the base connection from it"),
        examples=["aep/sources/acme-salesforce"])
    format: Literal["tabular", "json", "delimited", "parquet"] | FileFormat | None = Field(default=None, description=(
        "The data format; by default the connector's (required with an unknown connectionSpecId). A file "
        "source's is an object: {type: delimited|json|parquet, delimiter, compression, encoding}"),
        examples=["tabular", {"type": "delimited", "delimiter": ","}])
    bucket: ShortText | None = Field(default=None, description="Amazon S3: the bucket the files are in",
                                     examples=["acme-orders-exports"])
    path: str | None = Field(default=None, min_length=1, max_length=1024, description=(
        "Amazon S3: the files inside the bucket: a file (orders/2024-05.csv), a folder (orders/) or a folder's "
        "files by a wildcard in the file name (orders/*.csv)"), examples=["orders/"])
    recursive: bool | None = Field(default=None, description=(
        "Amazon S3: read the folder's subfolders too (a folder or wildcard path only)"), examples=[True])
    access: Literal["iam-role"] | None = Field(default=None, description=(
        "Amazon S3 without keys: `iam-role` lets Adobe's IAM role read the path, through a statement aepflow "
        "adds to the bucket's policy (and removes with the dataflow); or give credentialsSecret (Access Key)"),
        examples=["iam-role"])
    table: ShortText | None = Field(default=None, description=(
        "What to read: a CRM's object (params.tableName) or a database's table (params.path)"),
        examples=["Contact"])
    columns: list[Column] | None = Field(default=None, max_length=1000, description=(
        "CRM sources: the columns, checked against what explore says; discovered by explore when omitted"),
        examples=[[{"name": "Datefield", "type": "string", "xdmType": "date-time"}]])
    params: dict[str, Any] = Field(default={}, description=(
        "The connector's source params, e.g. Mixpanel's projectId and timezone"),
        examples=[{"projectId": "2671127", "timezone": "America/Los_Angeles"}])
    filter: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT, description=(
        "Only the rows that match, filtered at the source (a source whose connection spec's filterAtSource is "
        "enabled: Google BigQuery, Microsoft Dynamics, Salesforce): conditions column = \"text\", != < <= > >= "
        "a number, like \"M%\", in (\"a\", \"b\"), is null, joined by and, or, not and parentheses; sent as "
        "Adobe's PQL in params.filters (spec/filters.py)"),
        examples=['city = "DDN" and age > 30'])

    @field_validator("bucket", "path")
    @classmethod
    def _an_s3_bucket_and_a_path_inside_it(cls, value: str | None, info: ValidationInfo) -> str | None:
        """S3's bucket naming rules; a path inside the bucket (spec/files.py says each rule)."""
        problem = None if value is None else (bucket_problem if info.field_name == "bucket" else path_problem)(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("filter")
    @classmethod
    def _a_filter_that_compiles(cls, value: str | None) -> str | None:
        """The readable filter compiles to PQL (the message names the character and what was expected)."""
        return filters.checked(value)

    @field_validator("recursive")
    @classmethod
    def _folders_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        path = info.data.get("path")
        if value and path and not is_folder(path):
            raise ValueError(f"recursive reads a folder's subfolders, and path {path!r} is one file: end it with / "
                             "or use a wildcard (orders/*.csv)")
        return value

    @model_validator(mode="after")
    def _one_identity(self) -> "Source":
        if bool(self.connector) == bool(self.connectionSpecId):
            raise ValueError("give exactly one of connector or connectionSpecId")
        given = [k for k in ("baseConnectionId", "credentialsSecret", "access") if getattr(self, k)]
        if not given:
            raise ValueError("give baseConnectionId (an existing account), credentialsSecret (to create one) or, "
                             "for Amazon S3, access: iam-role")
        if self.access and len(given) > 1:
            raise ValueError(f"access: iam-role creates the account from Adobe's IAM role: give no {given[0]}")
        return self
