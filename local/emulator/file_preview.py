"""A cloud-storage file's preview, from its bytes: the options explore takes (explore/cloud-storage.md,
"Inspect the structure of a file": fileType, columnDelimiter, compressionType, encoding), the file
decompressed, decoded and parsed, and the answer in the shape the Data Landing Zone page prints for a
file of a CloudStorageToAEP source (create/cloud-storage/data-landing-zone.md, "Preview the contents
of a file"; the Azure File Storage exploreSpec of draft.md describes the same):

    {"format": "flat", "schema": {"columns": [{"name", "type", "xdm": {"type"}}]}, "data": [rows]}

Bounded: at most MAX_READ bytes of the object are read (cloud_storage.py), at most MAX_INFLATED
bytes come out of a decompression, at most MAX_ROWS rows or records are previewed. A file longer
than that is previewed from its beginning; its last, cut, row is dropped.

A delimited file's first row names its columns, and every column is a string: the Data Landing
Zone page previews `Id` 12345 and `Phone` 111111111 as strings, its columns `"type": "string"`, and
every explore page prints a file's columns as `String`. A JSON file's columns are its records'
top-level keys, typed from their values as source_tables.table_column types a column (string,
long, double, boolean), an object value `object` and an array `array`.
"""
from __future__ import annotations

import bz2
import codecs
import csv
import io
import json
import struct
import zlib
from dataclasses import dataclass

from .aep_errors import flow_error
from .source_tables import table_column

MAX_READ = 1 << 20
MAX_INFLATED = 4 << 20
MAX_ROWS = 100
FILE_TYPES = ("delimited", "json", "parquet")
# explore/cloud-storage.md and collect/cloud-storage.md: "bzip2, gzip, deflate, zipDeflate, tarGzip, tar".
COMPRESSIONS = ("bzip2", "gzip", "deflate", "zipDeflate", "tarGzip", "tar")
# "The supported encoding types are: UTF-8 and ISO-8859-1" (both pages).
ENCODINGS = {"UTF-8": "utf-8", "ISO-8859-1": "latin-1"}


@dataclass(frozen=True)
class FileOptions:
    file_type: str
    delimiter: str = ","
    compression: str | None = None
    encoding: str = "UTF-8"


class OptionRefused(ValueError):
    """An option's value AEP does not take; the message says why, its caller names the field."""


def refused(message: str):
    """A file option AEP does not take (FLOW-1434-400, INVENTED_CODES)."""
    return flow_error(400, "1434", "Invalid file options", message)


def unreadable(message: str):
    """A file that does not decompress, decode or parse with the options given (FLOW-1435-400)."""
    return flow_error(400, "1435", "File cannot be read", message)


def _one(query: dict, name: str) -> str | None:
    """A query parameter, its name matched without case (the pages write fileType and compressionType,
    flow-service.yaml FileType and CompressionType); refused when given twice."""
    found = [v for k, v in query.items() if k.lower() == name.lower()]
    if not found:
        return None
    if len(found) > 1 or isinstance(found[0], list):
        raise refused(f"{name} is given more than once")
    return str(found[0])


def column_delimiter(value: str) -> str:
    """A single character ("Any single character value is a permissible column delimiter",
    collect/cloud-storage.md). explore/cloud-storage.md's own example sends `columnDelimiter=\\t`
    as written, a backslash and a t: it means a tab, and is taken so."""
    if value == "\\t":
        return "\t"
    if len(value) != 1:
        raise OptionRefused(f"must be a single character, not {value[:20]!r}")
    return value


def compression_type(value: str) -> str:
    found = next((c for c in COMPRESSIONS if c.lower() == value.lower()), None)
    if found is None:
        raise OptionRefused(f"{value[:40]!r} is not one of {list(COMPRESSIONS)}")
    return found


def encoding(value: str) -> str:
    found = next((e for e in ENCODINGS if e.lower() == value.lower()), None)
    if found is None:
        raise OptionRefused(f"{value[:40]!r} is not one of {list(ENCODINGS)}")
    return found


def file_options(query: dict) -> FileOptions:
    """The options of objectType=file: fileType required (the exploreSpec's `required: [object,
    fileType]`), spelled in any case (the page's table writes DELIMITED, its examples delimited);
    "The encoding parameter is only available when ingesting delimited CSV files", the column
    delimiter is for delimited files, compression "for previewing a compressed delimited or JSON file"."""
    given = _one(query, "fileType")
    if given is None:
        raise refused(f"fileType is required to explore a file: one of {list(FILE_TYPES)}")
    file_type = given.lower()
    if file_type not in FILE_TYPES:
        raise refused(f"fileType {given[:40]!r} is not one of {list(FILE_TYPES)}")
    delimiter, compression = _one(query, "columnDelimiter"), _one(query, "compressionType")
    enc = _one(query, "encoding")
    if file_type != "delimited" and delimiter is not None:
        raise refused(f"columnDelimiter is for delimited files, not {file_type}")
    if file_type != "delimited" and enc is not None:
        raise refused(f"encoding is for delimited files only; a {file_type} file is read as UTF-8")
    if file_type == "parquet" and compression is not None:
        raise refused("compressionType is for delimited or JSON files, not parquet")
    checked = {}
    for name, value, check in (("columnDelimiter", delimiter, column_delimiter),
                               ("compressionType", compression, compression_type), ("encoding", enc, encoding)):
        try:
            checked[name] = check(value) if value is not None else None
        except OptionRefused as e:
            raise refused(f"{name} {e}") from None
    return FileOptions(file_type, checked["columnDelimiter"] or ",", checked["compressionType"],
                       checked["encoding"] or "UTF-8")


# ------------------------------------------------------------ decompression
def _stream(decompressor, raw: bytes, complete: bool, what: str, trailing_ok: bool = False) -> tuple[bytes, bool]:
    """(what comes out, whether that is all of it)."""
    try:
        out = decompressor.decompress(raw, MAX_INFLATED)
    except (zlib.error, OSError, EOFError, ValueError) as e:
        raise unreadable(f"the file does not decompress as {what}: {e}") from None
    ended = decompressor.eof and (trailing_ok or not decompressor.unused_data)
    if complete and not decompressor.eof and len(out) < MAX_INFLATED:
        raise unreadable(f"the file's {what} stream ends before its end")
    return out, ended and len(out) < MAX_INFLATED


def _zip_first(raw: bytes, complete: bool) -> tuple[bytes, bool]:
    """The first file of a zip archive, from its local file header (APPNOTE.TXT 4.3.7): the
    archive's central directory is at its end, which a bounded read may not reach."""
    offset = 0
    while True:
        if raw[offset:offset + 4] != b"PK\x03\x04" or len(raw) < offset + 30:
            raise unreadable("the file is not a zip archive holding a file (no local file header)")
        flags, method = struct.unpack_from("<HH", raw, offset + 6)
        (size,) = struct.unpack_from("<I", raw, offset + 18)
        name_len, extra_len = struct.unpack_from("<HH", raw, offset + 26)
        start = offset + 30 + name_len + extra_len
        if raw[offset + 30:offset + 30 + name_len].endswith(b"/"):
            offset = start + size  # a folder entry
            continue
        if flags & 1:
            raise unreadable("the zip archive's file is encrypted")
        known = not flags & 8  # bit 3: sizes follow the data
        data = raw[start:start + size] if known else raw[start:]
        whole = complete or (known and start + size <= len(raw))
        if method == 0:
            return data[:MAX_INFLATED], whole and len(data) <= MAX_INFLATED
        if method == 8:
            return _stream(zlib.decompressobj(-zlib.MAX_WBITS), data, whole and known, "zipDeflate", trailing_ok=True)
        raise unreadable(f"the zip archive's file is compressed with method {method}, not deflate")


def _tar_first(raw: bytes, complete: bool) -> tuple[bytes, bool]:
    """The first regular file of a tar archive (POSIX ustar headers of 512 bytes)."""
    offset = 0
    while offset + 512 <= len(raw):
        header = raw[offset:offset + 512]
        if header == bytes(512):
            break
        try:
            checksum = int(header[148:156].strip(b"\0 ") or b"-1", 8)
            size = int(header[124:136].strip(b"\0 ") or b"0", 8)
        except ValueError:
            raise unreadable("the file is not a tar archive (a header's numbers are not octal)") from None
        if checksum != sum(header[:148]) + 8 * 32 + sum(header[156:]):
            raise unreadable("the file is not a tar archive (a header's checksum does not match)")
        start = offset + 512
        if header[156:157] in (b"0", b"\0", b"7"):
            if complete and start + size > len(raw):
                raise unreadable("the tar archive ends inside its first file")
            data = raw[start:start + min(size, MAX_INFLATED)]
            return data, start + size <= len(raw) and size <= MAX_INFLATED
        offset = start + (size + 511) // 512 * 512
    raise unreadable("the tar archive holds no file" if complete or offset + 512 <= len(raw)
                     else "the tar archive holds no file within the part of it previewed")


def _zlib_wrapped(raw: bytes) -> bool:
    return len(raw) >= 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0


def inflate(raw: bytes, complete: bool, compression: str | None) -> tuple[bytes, bool]:
    """`raw` decompressed as `compression` says: (the bytes, whether they are the whole file)."""
    if compression is None:
        return raw, complete
    if compression == "gzip":
        return _stream(zlib.decompressobj(16 + zlib.MAX_WBITS), raw, complete, "gzip")
    if compression == "deflate":  # zlib-wrapped (RFC 1950) or raw (RFC 1951) deflate
        wbits = zlib.MAX_WBITS if _zlib_wrapped(raw) else -zlib.MAX_WBITS
        return _stream(zlib.decompressobj(wbits), raw, complete, "deflate")
    if compression == "bzip2":
        return _stream(bz2.BZ2Decompressor(), raw, complete, "bzip2")
    if compression == "zipDeflate":
        return _zip_first(raw, complete)
    if compression == "tar":
        return _tar_first(raw, complete)
    tarball, whole = _stream(zlib.decompressobj(16 + zlib.MAX_WBITS), raw, complete, "gzip (tarGzip)")
    return _tar_first(tarball, whole)


# ------------------------------------------------------------ decoding and parsing
def decode(data: bytes, complete: bool, name: str) -> str:
    try:
        text = codecs.getincrementaldecoder(ENCODINGS[name])().decode(data, final=complete)
    except UnicodeDecodeError as e:
        hint = "; its encoding may be ISO-8859-1" if name == "UTF-8" else ""
        raise unreadable(f"the file does not decode as {name} (byte {e.start}: {e.reason}){hint}") from None
    return text.removeprefix("\ufeff")


def _delimited(text: str, complete: bool, delimiter: str) -> tuple[list[dict], list[dict]]:
    if not complete:
        text = text[:text.rfind("\n") + 1]  # the last row is cut
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[dict] = []
    while len(rows) < MAX_ROWS:
        try:
            fields = next(reader, None)
        except csv.Error as e:
            if not complete:
                break  # a quoted field the bounded read cut
            raise unreadable(f"row {reader.line_num} is not delimited text: {e}") from None
        if fields is None:
            break
        if not fields:
            continue
        if header is None:
            empty = [i + 1 for i, f in enumerate(fields) if not f.strip()]
            doubled = sorted({f for f in fields if fields.count(f) > 1})
            if empty or doubled:
                raise unreadable(f"the header row names no column at positions {empty}" if empty
                                 else f"the header row names columns {doubled} more than once")
            header = fields
            continue
        if len(fields) > len(header):
            raise unreadable(f"row {reader.line_num} has {len(fields)} fields, the header row {len(header)}")
        rows.append({name: fields[i] if i < len(fields) else None for i, name in enumerate(header)})
    if header is None:
        raise unreadable("the file has no header row: a delimited file's first row names its columns")
    return [table_column({"name": n, "type": "string"}) for n in header], rows


def _json_records(text: str, complete: bool) -> list:
    """A JSON array of records, one JSON document, or JSON lines (one record a line)."""
    decoder = json.JSONDecoder()
    body = text.strip()
    records: list = []
    if body.startswith("["):
        at = 1
        while len(records) < MAX_ROWS:
            while at < len(body) and body[at] in " \t\r\n,":
                at += 1
            if at >= len(body) or body[at] == "]":
                break
            try:
                value, at = decoder.raw_decode(body, at)
            except json.JSONDecodeError as e:
                if not complete and records:
                    break
                raise unreadable(f"the file is not JSON: {e}") from None
            records.append(value)
        return records
    try:
        return [json.loads(body)] if complete and body else []
    except json.JSONDecodeError:
        pass  # not one document: JSON lines
    lines = body.splitlines()
    if not complete:
        lines = lines[:-1]
    for number, line in enumerate(lines, 1):
        if len(records) == MAX_ROWS:
            break
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise unreadable(f"line {number} is not JSON: {e}") from None
    return records


_JSON_KINDS = ((bool, "boolean"), (int, "long"), (float, "double"), (str, "string"), (dict, "object"),
               (list, "array"))


def _kind(value) -> str | None:
    return next((k for t, k in _JSON_KINDS if isinstance(value, t)), None)


def _json(text: str, complete: bool) -> tuple[list[dict], list[dict]]:
    records = _json_records(text, complete)
    if not records:
        raise unreadable("the file holds no JSON record")
    kinds: dict[str, set[str]] = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise unreadable(f"record {number} is a JSON {type(record).__name__}, not an object")
        for key, value in record.items():
            kind = _kind(value)
            kinds.setdefault(key, set()).update([kind] if kind is not None else [])
    columns = []
    for key, seen in kinds.items():
        kind = seen.pop() if len(seen) == 1 else "double" if seen == {"long", "double"} else "string"
        if kind in ("object", "array"):
            columns.append({"name": key, "type": kind, "xdm": {"type": kind}})
        else:
            columns.append(table_column({"name": key, "type": kind}))
    return columns, records


def preview(raw: bytes, complete: bool, options: FileOptions) -> dict:
    """The answer to objectType=file for a delimited or JSON file of these bytes (`complete`: they
    are the whole object)."""
    data, whole = inflate(raw, complete, options.compression)
    text = decode(data, whole, options.encoding)
    if options.file_type == "delimited":
        columns, rows = _delimited(text, whole, options.delimiter)
    else:
        columns, rows = _json(text, whole)
    return {"format": "flat", "schema": {"columns": columns}, "data": rows}
