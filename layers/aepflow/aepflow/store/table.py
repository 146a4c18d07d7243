"""How every store module reaches the dataflows table: the table as a boto3 resource (one per thread:
resources are not thread-safe) or through the process's low-level client (thread-safe, for the hot
paths), one serializer for the client's typed items, and conditional writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from aepflow.core import aws, settings
from aepflow.core.settings import Settings

_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize


def resource() -> Any:
    """The table (DATAFLOWS_TABLE) as this thread's boto3 Table."""
    return aws.table()


def client() -> Any:
    """The process's low-level DynamoDB client."""
    return aws.dynamodb()


def name() -> str:
    return settings.load(Settings).table_name


def typed(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as the low-level client takes them ({"S": ...})."""
    return {k: _serialize(v) for k, v in values.items()}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the low-level client answers it, in plain values."""
    return {k: _deserialize(v) for k, v in item.items()}


def conditional_failed(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def write_if(write: Callable[[], object]) -> bool:
    """Make a conditional write: True when it was made, False when its condition did not hold."""
    try:
        write()
        return True
    except ClientError as exc:
        if conditional_failed(exc):
            return False
        raise


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_object(item: dict[str, Any], attribute: str) -> dict[str, Any]:
    """An attribute kept as a JSON object, parsed: {} when absent or not an object (a stored item is
    read as hostile as any other input)."""
    try:
        value = json.loads(item.get(attribute) or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def get(key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
    """One item by key (a strongly consistent read unless told), or None."""
    return resource().get_item(Key=key, ConsistentRead=consistent).get("Item")
