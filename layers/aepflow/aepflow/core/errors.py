"""Named errors. Step Functions routes on the class name (the Lambda errorType),
so transient ones (AepThrottled, AepServerError, AepTimeout) can be retried and
everything else is final. No error carries a token or a secret value: each message and
problem is scrubbed of every secret this process has read (aepflow.scrub) when it is made."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from aepflow.core.scrub import scrub


class AepflowError(Exception):
    """Base of every error aepflow raises on purpose."""

    kind = "error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 request_id: str | None = None, step: str | None = None,
                 problems: list[dict[str, str]] | None = None):
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.step = step
        self.problems = scrub(problems) if problems else []

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": type(self).__name__, "message": self.message}
        for key in ("code", "status", "request_id", "step"):
            value = getattr(self, key)
            if value is not None:
                data["requestId" if key == "request_id" else key] = value
        if self.problems:
            data["problems"] = self.problems
        return data

    def __str__(self) -> str:
        # The Lambda runtime puts str(exc) in errorMessage; JSON keeps it machine-readable
        # for the roll-back step and for whoever reads the execution history.
        return json.dumps(self.to_dict(), sort_keys=True)


class SpecInvalid(AepflowError):
    """The dataflow spec is refused before any AEP call; `problems` lists every field."""


class DocumentTooLarge(SpecInvalid):
    """The spec document is larger than aepflow reads (document.MAX_DOCUMENT_BYTES)."""


class AepError(AepflowError):
    """AEP (or IMS) answered with an error."""


class AepValidationError(AepError):
    """400/409/422: AEP refused the request; final."""


class AepAuthError(AepError):
    """401/403: credentials, token, API key or org refused; final."""


class AepNotFound(AepError):
    """404: the resource does not exist; final."""


class AepPreconditionFailed(AepError):
    """412: the If-Match etag is stale."""


class AepThrottled(AepError):
    """429: retry after a pause."""


class AepServerError(AepError):
    """5xx: transient; a POST that got one may or may not have been applied."""


class AepTimeout(AepError):
    """No answer in time, or the connection failed; transient like a 5xx."""


class SourceMismatch(AepflowError):
    """What the source holds does not fit the spec (e.g. a mapped attribute is absent)."""


class FlowSpecMismatch(AepflowError):
    """The flow spec does not accept this source, or the schedule breaks its scheduleSpec."""


# --- What the doors (API, bucket, CLI) answer about a dataflow; the API turns each into HTTP. ---

class DataflowNotFound(AepflowError):
    """No dataflow by that name (404)."""


class DataflowConflict(AepflowError):
    """A different spec holds the name, provisioning still runs, or the record changed underneath (409)."""


class DataflowPreconditionFailed(AepflowError):
    """The client's If-Match no longer matches the dataflow (412)."""


class ChangeRefused(AepflowError):
    """A change AEP forbids or aepflow cannot apply in place; `problems` names the field (400)."""


# --- A bucket's policy, changed so that Adobe's IAM role reads an S3 source's files (aepflow.s3). ---

class BucketPolicyRefused(AepflowError):
    """aepflow may not, or cannot, change a source bucket's policy: the bucket is not one the stack may
    change (its S3SourceBuckets parameter), S3 refused (403: another account's bucket, or a policy the
    stack's role may not change), or the policy is not one aepflow can read or grow. The message names
    the bucket, why, and the exact statements to add (or the Sids to remove) by hand; `statements` holds
    them. They name Adobe's role and the bucket's paths, never a secret. Final."""

    def __init__(self, message: str, *, statements: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.statements = statements or []


class S3Unavailable(AepflowError):
    """S3 throttled (SlowDown), failed (5xx), was busy with another change of the bucket's configuration
    (409 OperationAborted) or did not answer: transient, retried like AEP's."""


TRANSIENT_ERRORS = (AepThrottled, AepServerError, AepTimeout)

_CODE_IN_TYPE = re.compile(r"([A-Z]+-\d+-\d+)\s*$")


def error_for_status(status: int) -> type[AepError]:
    if status == 429:
        return AepThrottled
    if status >= 500:
        return AepServerError
    if status in (401, 403):
        return AepAuthError
    if status == 404:
        return AepNotFound
    if status == 412:
        return AepPreconditionFailed
    return AepValidationError


def parse_error_body(status: int, body: Any,
                     headers: dict[str, str] | None = None) -> tuple[str | None, str, str | None]:
    """(code, message, request id) from the error shapes of FACTS.md §4:
    Flow Service / Schema Registry `{type, title, report, ...}`, the gateway's
    `{error_code, message}`, IMS `{error, error_description}`, or plain text."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    request_id = headers.get("x-request-id")
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        text = (body or "").strip() if isinstance(body, str) else ""
        return None, text[:300] or f"HTTP {status}", request_id
    raw_report = body.get("report")
    report: dict[str, Any] = raw_report if isinstance(raw_report, dict) else {}
    request_id = report.get("request-id") or report.get("registryRequestId") or body.get("requestId") or request_id
    code = None
    if isinstance(body.get("type"), str):
        match = _CODE_IN_TYPE.search(body["type"])
        code = match.group(1) if match else None
    code = code or body.get("code") or body.get("error_code") or body.get("error")
    message = (
        report.get("detailed-message") or body.get("detail") or body.get("errorMessage")
        or body.get("message") or body.get("error_description") or body.get("title") or f"HTTP {status}"
    )
    if body.get("title") and message != body.get("title"):
        message = f"{body['title']}: {message}"
    return (str(code) if code is not None else None), str(message)[:1000], request_id


def step(name: str):
    """Tag every aepflow error with the step it came from (shown in FAILED results)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except AepflowError as exc:
                exc.step = exc.step or name
                raise
        return wrapper
    return decorate


class StepCrashed(Exception):
    """An unexpected error in a step, its message scrubbed of secrets."""


def scrubbed_errors(call: Callable[[], Any]) -> Any:
    """call(), with an unexpected error's message scrubbed of secrets: the Lambda runtime copies
    str(exc) into the execution history. aepflow's own errors are scrubbed when they are made."""
    try:
        return call()
    except AepflowError:
        raise
    except Exception as exc:
        raise StepCrashed(f"{type(exc).__name__}: {scrub(str(exc))}") from None
