"""The Lambda entry point of the API (functions/api): a POST or PATCH body is read through the one way in
for documents (aepflow.spec.document) before the resolver sees it, then the route answers."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import Response

from aepflow.core.errors import DocumentTooLarge, SpecInvalid
from aepflow.doors.api.models import error_response
from aepflow.doors.api.routes import BODY_ROUTES, OPTIONAL_BODY_ROUTES, app
from aepflow.spec import document

# Media types a body may come in. curl --data-binary sends form encoding by default, so a
# form-encoded body is read as the raw document it is; anything else is a 415.
BODY_MEDIA_TYPES = ("application/json", "application/merge-patch+json", "application/yaml", "application/x-yaml",
                    "text/yaml", "text/x-yaml", "application/x-www-form-urlencoded")
_JSON_MEDIA_TYPES = ("application/json", "application/merge-patch+json")


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _read_body(event: dict[str, Any]) -> dict[str, Any]:
    """Read a POST or PATCH body through the one way in for documents (aepflow.document) before
    the resolver sees it: 415 for a media type the API does not take, 413 when too large, 400
    for an empty, non-UTF-8, malformed or non-object body. What was read goes on as JSON."""
    method, path = event.get("httpMethod"), event.get("path") or ""
    optional = any(m == method and re.fullmatch(pattern, path) for m, pattern in OPTIONAL_BODY_ROUTES)
    if not optional and not any(m == method and re.fullmatch(pattern, path) for m, pattern in BODY_ROUTES):
        return event
    if optional and not event.get("body"):
        return event
    media = (_header(event, "content-type") or "").split(";", 1)[0].strip().lower()
    if media and media not in BODY_MEDIA_TYPES:
        raise _BodyRefused(error_response(415, "UnsupportedMediaType", f"Content-Type {media!r} is not accepted",
                                          [{"path": "(header) Content-Type",
                                            "message": f"use one of {', '.join(BODY_MEDIA_TYPES)}"}]))
    body: Any = event.get("body")
    code = "RequestInvalid"  # the body could not be read as a document; SpecInvalid is for what it says
    if event.get("isBase64Encoded") and body:
        try:
            body = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _BodyRefused(error_response(400, code, "the body is not valid base64",
                                              [{"path": "(body)", "message": "not valid base64"}])) from None
    if not body:
        raise _BodyRefused(error_response(400, code, "the request has no body",
                                          [{"path": "(body)",
                                            "message": "the body is empty; send a JSON or YAML object"}]))
    try:
        tree = document.read(body, json_only=media in _JSON_MEDIA_TYPES)
    except SpecInvalid as exc:
        problems = [{**p, "path": "(body)" if p["path"] == document.DOCUMENT else p["path"]} for p in exc.problems]
        if isinstance(exc, DocumentTooLarge):
            raise _BodyRefused(error_response(413, "PayloadTooLarge", exc.message, problems)) from None
        raise _BodyRefused(error_response(400, code, exc.message, problems)) from None
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    multi["Content-Type"] = ["application/json"]
    return {**event, "body": json.dumps(tree), "isBase64Encoded": False, "headers": headers,
            "multiValueHeaders": multi}


class _BodyRefused(Exception):
    """A body refused before routing; carries the answer, in the error shape of every route."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response

    def proxy_result(self) -> dict[str, Any]:
        return {"statusCode": self.response.status_code, "body": self.response.body, "isBase64Encoded": False,
                "multiValueHeaders": {"Content-Type": ["application/json"]}}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        event = _read_body(event)
    except _BodyRefused as refused:
        return refused.proxy_result()
    return app.resolve(event, context)
