"""The source branch's "Let Adobe's role read the source's files" (source.access: iam-role): Adobe's IAM
role, read from AEP (GET /connectionSpecs/{id}/configs?authType=IamBasedAuthentication, as create/
cloud-storage/s3.md says), let into the bucket's policy for the dataflow's path alone (aepflow.s3).

The grant is journalled as a "bucketGrant" whose resource id names the bucket and the two Sids, so a
roll-back removes it (steps/rollback.py). The entry is written before the policy is, and says "created"
after. When one of the dataflow's Sids was already in the policy (a re-apply, or an earlier execution of
the same dataflow), the entry says "found": the roll-back leaves it, for it is the dataflow's since before
this execution, and the dataflow's delete removes it.

When aepflow may not change the policy (a bucket outside S3SourceBuckets, another account's, a policy the
stack's role may not change), the step warns with the statements and goes on: they may be there by hand.
The explore then judges, and its refusal says which statements to add (steps/files.py)."""

from __future__ import annotations

from aepflow.aep import resources
from aepflow.core.errors import AepServerError, BucketPolicyRefused, SourceMismatch, step
from aepflow.core.observability import logger
from aepflow.s3 import grants, policy
from aepflow.steps.context import Context

# create/cloud-storage/s3.md: the auth type whose configs name the role ("IAMRole Based" connections).
IAM_ROLE_AUTH_TYPE = "IamBasedAuthentication"


def adobe_role(ctx: Context) -> str:
    """The IAM role Adobe reads the bucket with: {"configParams": {"IAMRole": ...}}, held to an IAM role's
    or user's ARN or an account id before it goes into a policy (AEP's answer is hostile input)."""
    answer = resources.connection_spec_config(ctx.client, ctx.resolved.connectionSpecId, IAM_ROLE_AUTH_TYPE)
    params = answer.get("configParams") if isinstance(answer, dict) else None
    role = params.get("IAMRole") if isinstance(params, dict) else None
    problem = "absent" if role is None else policy.principal_problem(role)
    if problem:
        raise AepServerError(f"AEP's configs of the connection spec {ctx.resolved.connectionSpecId} for "
                             f"{IAM_ROLE_AUTH_TYPE} are not what Flow Service documents (configParams.IAMRole: "
                             f"{problem})", status=502)
    return str(role)


def grant_of(ctx: Context) -> grants.Grant:
    """The grant that lets Adobe's role read the spec's files: its statements for the spec's bucket and path."""
    source = ctx.spec.source
    return grants.for_dataflow(ctx.spec.name, source.bucket or "", source.path or "", bool(source.recursive),
                               adobe_role(ctx))


@step("grant-bucket-read")
def grant_bucket_read(ctx: Context) -> None:
    """Let Adobe's role read the dataflow's files: its two statements in the bucket's policy (nothing for a
    source that is not read through Adobe's role). Returns nothing the state keeps."""
    source = ctx.spec.source
    if source.access != "iam-role":
        return None
    if not source.bucket or not source.path:
        raise SourceMismatch("an iam-role source names its bucket and path", problems=[
            {"path": "source.bucket" if not source.bucket else "source.path", "message": "is required"}])
    grant = grant_of(ctx)
    journal = ctx.journal
    written: list[str] = []

    def before_write(existed: bool) -> None:
        sort_key = journal.intend(grants.KIND, grant.id)
        if existed:  # the dataflow's own since before this execution: never this roll-back's to remove
            journal.mark(sort_key, "found")
        else:
            written.append(sort_key)

    try:
        outcome = grants.ensure(grant, before_write=before_write)
    except BucketPolicyRefused as refused:
        # aepflow may not change this bucket's policy (not in S3SourceBuckets, another account's, or a policy
        # its role may not change); its owner may have added the statements by hand. The explore that follows
        # judges: when Adobe's role may not read the files, its refusal carries these statements (steps/files).
        journal.warn("grant-bucket-read", [{"path": "source.bucket", "message": refused.message}])
        return None
    if outcome == grants.UNCHANGED:
        journal.mark(journal.intend(grants.KIND, grant.id), "found")
    elif written:
        journal.created(written[0], grant.id)
        if journal.rolling_back():
            # A sibling branch failed while this step ran, and the roll-back may have read the journal
            # before this entry was written (journal.ROLLING_BACK): undo the grant here.
            grants.remove(grant)
            journal.mark(written[0], "deleted")
            logger.warning("the execution was rolled back while its bucket grant was made: removed",
                           extra={"bucket": grant.bucket, "id": grant.id})
    logger.info("bucket grant", extra={"bucket": grant.bucket, "id": grant.id, "outcome": outcome})
    return None
