"""The S3 model cache on AWS: one bucket per platform and the two roles that reach it through EKS Pod Identity.

* The bucket: SSE-S3 encryption by default (AES256, no KMS key to grant), every public-access block on, ACLs off
  (bucket owner enforced), TLS-only by bucket policy. It goes with the platform (``force_destroy``: weights are a
  copy of the hub's) unless ``cache.keep_bucket``, which keeps it and its objects when the stack is destroyed.
* Read-only role for the model pods, read-write role for the mirror Job and, with vLLM's compile cache, one for
  the compile Job (render/compile_cache.py). Each trusts ``pods.eks.amazonaws.com`` only for its own service
  account in the platform's namespace on this cluster, through the session tags Pod Identity sets (Amazon EKS User
  Guide, "Create IAM role with trust policy required by EKS Pod Identity", pod-id-role.html:
  ``aws:RequestTag/kubernetes-namespace``, ``.../kubernetes-service-account``, ``.../eks-cluster-name``), so another
  association in the account cannot borrow any of them.
* The roles see only ``models/*`` and ``compile-cache/*``: a bucket shared with other data stays out of their
  reach. The model pods read both; the mirror writes weights only; the compile Job reads weights and writes only
  the compile cache. The serving pods never write: the compile cache is code every later pod runs.
* A lifecycle rule aborts multipart uploads still incomplete a day after they began (S3 keeps, and bills, the
  parts of an upload nobody completes: a mirror Job killed mid-file leaves one). A mirror runs at most
  ``cache.mirror_timeout_s`` (<= 1 day), so no upload of a running mirror is that old. Field names from
  pulumi-aws 7.x ``s3.BucketLifecycleConfiguration`` (``abort_incomplete_multipart_upload.days_after_initiation``;
  an empty ``filter`` applies the rule to every object), i.e. S3's PutBucketLifecycleConfiguration
  ``AbortIncompleteMultipartUpload.DaysAfterInitiation``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from inferctl.aws.context import ProgramContext
from inferctl.aws.eks import Cluster
from inferctl.cache.compile_cache import COMPILE_PREFIX
from inferctl.cache.location import compiles, uses_cache
from inferctl.cache.mirror import MODELS_PREFIX
from inferctl.render.model_cache import COMPILE_SERVICE_ACCOUNT, MIRROR_SERVICE_ACCOUNT, MODEL_SERVICE_ACCOUNT

BUCKET_PREFIX_MAX = 37  # bucket_prefix leaves 26 characters of the 63 to the generated suffix
READ_ACTIONS = ["s3:GetObject"]
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 1
WRITE_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]


@dataclass(frozen=True)
class ModelCache:
    bucket: aws.s3.Bucket
    reader_role: aws.iam.Role
    writer_role: aws.iam.Role
    associations: list[aws.eks.PodIdentityAssociation]
    compiler_role: aws.iam.Role | None = None

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket


def wants_model_cache(ctx: ProgramContext) -> bool:
    return any(uses_cache(ctx.config, model) for model in ctx.config.models)


def pod_identity_trust(cluster_name: str, namespace: str, service_account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {
                            "aws:RequestTag/eks-cluster-name": cluster_name,
                            "aws:RequestTag/kubernetes-namespace": namespace,
                            "aws:RequestTag/kubernetes-service-account": service_account,
                        }
                    },
                }
            ],
        }
    )


_SIDS = {MODELS_PREFIX: "ModelObjects", COMPILE_PREFIX: "CompileCacheObjects"}


def access_policy(bucket_arn: str, object_actions: list[str], compile_actions: list[str] | None = None) -> str:
    """List the models prefix and ``object_actions`` on its objects; with ``compile_actions``, the same for the
    compile cache's prefix; nothing else in the bucket."""
    grants = {MODELS_PREFIX: object_actions, **({COMPILE_PREFIX: compile_actions} if compile_actions else {})}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListModels",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": bucket_arn,
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*" for prefix in grants]}},
                },
                *(
                    {
                        "Sid": _SIDS[prefix],
                        "Effect": "Allow",
                        "Action": actions,
                        "Resource": f"{bucket_arn}/{prefix}/*",
                    }
                    for prefix, actions in grants.items()
                ),
            ],
        }
    )


def tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _bucket(ctx: ProgramContext) -> aws.s3.Bucket:
    settings = ctx.config.cache
    naming: dict[str, Any] = (
        {"bucket": settings.bucket}
        if settings.bucket
        else {"bucket_prefix": f"{ctx.cluster_name}-model-cache-"[:BUCKET_PREFIX_MAX]}
    )
    keep = settings.keep_bucket  # a kept bucket keeps its guards too: destroy must not leave it open
    bucket = aws.s3.Bucket(
        "model-cache",
        force_destroy=not keep,
        **naming,
        opts=ctx.opts(retain_on_delete=keep),
    )
    block = aws.s3.BucketPublicAccessBlock(
        "model-cache-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=ctx.opts(retain_on_delete=keep),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        "model-cache-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=ctx.opts(retain_on_delete=keep),
    )
    aws.s3.BucketOwnershipControls(
        "model-cache-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=ctx.opts(retain_on_delete=keep),
    )
    aws.s3.BucketLifecycleConfiguration(
        "model-cache-lifecycle",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),  # every object
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS
                ),
            )
        ],
        opts=ctx.opts(retain_on_delete=keep),
    )
    aws.s3.BucketPolicy(
        "model-cache-tls-only",
        bucket=bucket.id,
        policy=bucket.arn.apply(tls_only_policy),
        opts=ctx.opts(
            depends_on=[block], retain_on_delete=keep
        ),  # a policy put before the block is judged against the old settings
    )
    return bucket


def _role(
    ctx: ProgramContext,
    cluster: Cluster,
    bucket: aws.s3.Bucket,
    *,
    slug: str,
    account: str,
    actions: list[str],
    compile_actions: list[str] | None = None,
) -> tuple[aws.iam.Role, aws.eks.PodIdentityAssociation]:
    namespace = ctx.config.kubernetes.namespace
    role = ctx.iam_role(
        f"model-cache-{slug}-role", f"model-cache-{slug}", pod_identity_trust(ctx.cluster_name, namespace, account)
    )
    policy = aws.iam.RolePolicy(
        f"model-cache-{slug}",
        role=role.id,
        policy=bucket.arn.apply(lambda arn: access_policy(arn, actions, compile_actions)),
        opts=ctx.opts(),
    )
    association = aws.eks.PodIdentityAssociation(
        f"model-cache-{slug}-pod-identity",
        cluster_name=cluster.name,
        namespace=namespace,
        service_account=account,
        role_arn=role.arn,
        opts=ctx.opts(depends_on=[policy, cluster.addons["eks-pod-identity-agent"]]),
    )
    return role, association


def build_model_cache(ctx: ProgramContext, cluster: Cluster) -> ModelCache | None:
    """The bucket, its roles and their Pod Identity associations; None when no model uses the cache."""
    if not wants_model_cache(ctx):
        return None
    bucket = _bucket(ctx)
    compiled = any(compiles(ctx.config, model) for model in ctx.config.models)
    reader, read_assoc = _role(
        ctx,
        cluster,
        bucket,
        slug="reader",
        account=MODEL_SERVICE_ACCOUNT,
        actions=READ_ACTIONS,
        compile_actions=READ_ACTIONS if compiled else None,
    )
    writer, write_assoc = _role(
        ctx, cluster, bucket, slug="writer", account=MIRROR_SERVICE_ACCOUNT, actions=WRITE_ACTIONS
    )
    cache = ModelCache(bucket=bucket, reader_role=reader, writer_role=writer, associations=[read_assoc, write_assoc])
    if not compiled:
        return cache
    compiler, compile_assoc = _role(
        ctx,
        cluster,
        bucket,
        slug="compiler",
        account=COMPILE_SERVICE_ACCOUNT,
        actions=READ_ACTIONS,
        compile_actions=WRITE_ACTIONS,
    )
    return replace(cache, compiler_role=compiler, associations=[*cache.associations, compile_assoc])
