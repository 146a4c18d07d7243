"""`python -m local secret put NAME --value JSON --endpoint URL`: a source secret put into the
Secrets Manager of a running `python -m local serve` (its first line's "aws" endpoint), made or
given a new value, as one would with the aws CLI or boto3 against AWS:

    aws --endpoint-url URL secretsmanager create-secret --name aep/sources/mine --secret-string '{...}'

The credentials boundary holds: a spec can only name a secret under the source-secrets prefix
(template.yaml's SourceSecretsPrefix, aep/sources/ by default), so this command refuses any other
name, and with it the stack's own AEP credentials. It talks to 127.0.0.1 only, with the local
stack's key (testing/testing), never with one's own AWS credentials."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any
from urllib.parse import urlsplit

from local import template as cfn

# Secrets Manager's own limits: a name of 1 to 512 of these characters, a SecretString of 65,536 bytes.
NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
MAX_VALUE_BYTES = 65_536
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# Exit codes, as the aepflow command's: 0 done, 1 the stack refused or could not be reached, 2 bad input.
DONE, FAILED, REFUSED = 0, 1, 2


def add_parser(sub: Any) -> None:
    secret = sub.add_parser("secret", help="put a source secret into a running `python -m local serve`")
    verbs = secret.add_subparsers(dest="verb", required=True)
    put = verbs.add_parser("put", help="make the secret, or give it a new value")
    put.add_argument("name", metavar="NAME", help="under the source-secrets prefix (aep/sources/ by default)")
    put.add_argument("--value", required=True, metavar="JSON", help="the secret's value, a JSON object")
    put.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), metavar="URL",
                     help='the "aws" URL of serve\'s first line (default: $AWS_ENDPOINT_URL)')
    put.add_argument("--prefix", default=cfn.parameter_defaults(cfn.load())["SourceSecretsPrefix"],
                     help='the stack\'s source-secrets prefix (serve\'s "sourceSecretsPrefix"; default %(default)s)')
    put.add_argument("--json", action="store_true", help="a JSON line instead of words")


def problems(name: str, value: str, endpoint: str | None, prefix: str) -> list[str]:
    """What is wrong with the request, each with the argument it is about; [] when nothing is."""
    found = []
    if not NAME.fullmatch(name):
        found.append("NAME: 1 to 512 letters, digits or /_+=.@- (Secrets Manager's rule)")
    elif not name.startswith(prefix) or name == prefix:
        found.append(f"NAME: {name!r} is not under the source-secrets prefix {prefix!r}; a spec's "
                     "credentialsSecret can only name a secret under it")
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        found.append(f"--value: not JSON ({exc})")
    else:
        if not isinstance(parsed, dict) or not parsed:
            found.append("--value: expected a JSON object of the connector's auth params, e.g. "
                         '\'{"username": "...", "password": "..."}\'')
        elif len(value.encode()) > MAX_VALUE_BYTES:
            found.append(f"--value: {len(value.encode())} bytes, more than Secrets Manager's {MAX_VALUE_BYTES}")
    if not endpoint:
        found.append('--endpoint: required (the "aws" URL of `python -m local serve`\'s first line)')
    else:
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS or not parts.port:
            found.append(f"--endpoint: {endpoint!r} is not a local stack's (http://127.0.0.1:PORT)")
    return found


def put(name: str, value: str, endpoint: str) -> str:
    """Make the secret, or put a new value of it; 'created' or 'updated'."""
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        client.create_secret(Name=name, SecretString=value)
        return "created"
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)
        return "updated"


def run(args: argparse.Namespace, out: Any) -> int:
    found = problems(args.name, args.value, args.endpoint, args.prefix)
    if found:
        sys.stderr.write("".join(f"secret put: {problem}\n" for problem in found))
        return REFUSED
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        action = put(args.name, args.value, args.endpoint)
    except (BotoCoreError, ClientError) as exc:
        sys.stderr.write(f"secret put: {args.endpoint}: {exc}\n")
        return FAILED
    out.write(json.dumps({"name": args.name, "action": action}) + "\n" if args.json else f"{action} {args.name}\n")
    return DONE
