"""The files of one's own S3 buckets, for the local stack's S3 (moto): what an Amazon S3 source's explore
reads (the emulator reads the same S3, local/emulator/cloud_storage.py) and what its flow ingests.

A folder of buckets: each subfolder is a bucket, named as the subfolder is, and each file under it an
object whose key is its path below the subfolder. `examples/files/` is always there (example 005's
`acme-orders-exports`); `python -m local ... --files DIR` adds one's own (a bucket of the same name
as an example's takes its files beside them).

    examples/files/acme-orders-exports/orders/2024-05.csv  ->  s3://acme-orders-exports/orders/2024-05.csv

Bounded like the other inputs of the local stack: at most MAX_FILES files of at most MAX_FILE_BYTES
each; a subfolder whose name is not a bucket name, or a file that is not a regular file (a link), is
refused with its path."""
from __future__ import annotations

from pathlib import Path

EXAMPLE_FILES = Path(__file__).resolve().parent.parent / "examples" / "files"
MAX_FILES = 1000
MAX_FILE_BYTES = 10 * 1024 * 1024


class FilesInvalid(ValueError):
    """A --files folder is refused: the message names the path and why."""


def _bucket_problem(name: str) -> str | None:
    from aepflow.spec.files import bucket_problem  # S3's naming rules, as a spec's bucket is held to them

    return bucket_problem(name)


def read(folder: str | Path) -> dict[str, dict[str, Path]]:
    """bucket -> key -> file, for the folder of buckets at `folder` (FilesInvalid when it is not one)."""
    root = Path(folder)
    if not root.is_dir():
        raise FilesInvalid(f"--files {folder}: not a folder (each of its subfolders is a bucket)")
    buckets: dict[str, dict[str, Path]] = {}
    count = 0
    for bucket_dir in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not bucket_dir.is_dir() or bucket_dir.is_symlink():
            raise FilesInvalid(f"--files {folder}: {bucket_dir.name} is not a folder (each entry is a bucket)")
        problem = _bucket_problem(bucket_dir.name)
        if problem:
            raise FilesInvalid(f"--files {folder}: {bucket_dir.name} {problem}")
        objects = buckets.setdefault(bucket_dir.name, {})
        for path in sorted(bucket_dir.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            if path.is_symlink() or not path.is_file():
                raise FilesInvalid(f"--files {folder}: {path.relative_to(root)} is not a regular file")
            count += 1
            if count > MAX_FILES:
                raise FilesInvalid(f"--files {folder}: more than {MAX_FILES} files")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise FilesInvalid(f"--files {folder}: {path.relative_to(root)} is larger than "
                                   f"{MAX_FILE_BYTES:,} bytes")
            objects[path.relative_to(bucket_dir).as_posix()] = path
    return buckets


def put(s3, buckets: dict[str, dict[str, Path]]) -> list[str]:
    """Create each bucket (if it is not there) and put its files; the buckets' names."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets") or []}
    for bucket, objects in buckets.items():
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
        for key, path in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return list(buckets)


def merged(*folders: str | Path | None) -> dict[str, dict[str, Path]]:
    """The buckets of every folder given, examples/files first."""
    out: dict[str, dict[str, Path]] = {}
    for folder in (EXAMPLE_FILES, *folders):
        if folder is None:
            continue
        for bucket, objects in read(folder).items():
            out.setdefault(bucket, {}).update(objects)
    return out
