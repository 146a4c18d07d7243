"""aepflow: provision and watch Adobe Experience Platform source dataflows.

All real logic lives in this package (the shared Lambda layer); the handlers in
functions/ only parse their event, call one function here and return JSON.

In a Lambda container, boto3 (which every handler uses) is imported first and what it made is
frozen out of the garbage collector's sight (`gc.freeze`): those objects live as long as the
container, and otherwise the full collection that building pydantic's models sets off walks all of
botocore again, about 20 ms of a cold import here. Nothing changes outside Lambda (the command, the
tests, the local stack)."""

import gc

from aepflow.core.settings import running_in_lambda

if running_in_lambda():
    import boto3  # noqa: F401 - imported here so that it is what the freeze holds

    gc.freeze()
