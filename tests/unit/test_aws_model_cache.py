"""The S3 model cache in the AWS program, under Pulumi's mocks (the program runs; engine and providers do not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferctl.aws.offline import offline_plan
from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.render import render_platform
from inferctl.render.model_cache import COMPILE_SERVICE_ACCOUNT, MIRROR_SERVICE_ACCOUNT, MODEL_SERVICE_ACCOUNT
from inferctl.targets.aws import AwsTarget
from tests.support.aws import WORKSHOP_MODEL, actions_of, of_type, one, policy_of, run_program
from tests.support.render import g5_xlarge_placement
from tests.support.render import one as one_object

BUCKET = "aws:s3/bucket:Bucket"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def cached(**cache: Any) -> PlatformConfig:
    return PlatformConfig.model_validate(
        {
            "name": "workshop",
            "target": "aws",
            "models": [{"name": "llama3", "source": WORKSHOP_MODEL, "revision": "abc123"}],
            "cache": {"enabled": True, **cache},
        }
    )


def test_no_cache_no_bucket() -> None:
    run = run_program(
        PlatformConfig.model_validate(
            {"name": "workshop", "target": "aws", "models": [{"name": "llama3", "source": WORKSHOP_MODEL}]}
        )
    )
    assert not of_type(run.resources, BUCKET) and "model_cache_bucket" not in run.outputs


def test_bucket_is_private_encrypted_tls_only_and_goes_with_the_platform() -> None:
    run = run_program(cached())
    bucket = one(run.resources, BUCKET, "model-cache")
    assert bucket.inputs["forceDestroy"] is True and "bucket" not in bucket.inputs
    assert bucket.inputs["bucketPrefix"] == "workshop-model-cache-"
    assert run.outputs["model_cache_bucket"] == "workshop-model-cache-offline"
    block = one(run.resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[key] is True
        for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    rule = one(run.resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert rule.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    ownership = one(run.resources, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    deny = policy_of(one(run.resources, "aws:s3/bucketPolicy:BucketPolicy"))["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_incomplete_multipart_uploads_are_aborted_after_a_day() -> None:
    """A mirror killed mid-upload leaves parts S3 keeps and bills; the bucket's lifecycle rule aborts them. Field
    names as pulumi-aws 7.51 sends them to the provider (S3 PutBucketLifecycleConfiguration's
    AbortIncompleteMultipartUpload.DaysAfterInitiation); an empty filter means every object."""
    run = run_program(cached())
    config = one(run.resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
    assert config["bucket"] == "model-cache-id"  # the cache bucket's id, as the mocks name ids
    (rule,) = config["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    # No rule expires or moves objects: the cache's weights stay until 'cache drop' or destroy.
    assert not {"expiration", "transitions", "noncurrentVersionExpiration"} & set(rule)


def test_the_cache_brings_the_volume_driver_its_mirror_jobs_download_into() -> None:
    """Each mirror Job downloads into a generic ephemeral volume with no class named (render/model_cache.py): the
    program installs the EBS CSI driver and makes its gp3 class the default, as for kubernetes.model_cache: pvc."""
    run = run_program(cached())
    assert one(run.resources, "aws:eks/addon:Addon", "addon-aws-ebs-csi-driver").inputs["addonName"] == (
        "aws-ebs-csi-driver"
    )
    storage = one(run.resources, "kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage["reclaimPolicy"] == "Delete"  # a finished Job's volume goes with its pod
    plain = PlatformConfig.model_validate(
        {"name": "workshop", "target": "aws", "models": [{"name": "llama3", "source": WORKSHOP_MODEL}]}
    )
    assert not of_type(run_program(plain).resources, "kubernetes:storage.k8s.io/v1:StorageClass")


def test_keep_bucket_survives_destroy() -> None:
    bucket = one(run_program(cached(keep_bucket=True, bucket="team-weights")).resources, BUCKET, "model-cache")
    assert bucket.inputs["forceDestroy"] is False and bucket.inputs["bucket"] == "team-weights"


def test_a_kept_bucket_keeps_its_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """With keep_bucket, destroy must not strip the kept bucket of its public-access block, encryption, ownership
    and TLS-only policy: each is retained with the bucket. Pulumi's mocks do not record resource options, so the
    constructors are wrapped to read the options the program passes."""
    import pulumi_aws

    from inferctl.aws.offline import record_program

    retained: dict[str, bool] = {}
    kinds = ("Bucket", "BucketPublicAccessBlock", "BucketServerSideEncryptionConfiguration", "BucketOwnershipControls",
             "BucketLifecycleConfiguration", "BucketPolicy")  # fmt: skip
    real = {kind: getattr(pulumi_aws.s3, kind) for kind in kinds}
    for kind in kinds:

        def build(*args: Any, _kind: str = kind, **kwargs: Any) -> Any:
            retained[_kind] = bool(kwargs["opts"].retain_on_delete)
            return real[_kind](*args, **kwargs)

        monkeypatch.setattr(pulumi_aws.s3, kind, build)
    record_program(cached(keep_bucket=True, bucket="team-weights"))
    assert retained == dict.fromkeys(kinds, True)


@pytest.mark.parametrize(
    ("slug", "account", "writes"),
    [
        ("reader", MODEL_SERVICE_ACCOUNT, False),
        ("writer", MIRROR_SERVICE_ACCOUNT, True),
        ("compiler", COMPILE_SERVICE_ACCOUNT, False),  # writes the compile cache only, never the weights
    ],
)
def test_each_role_serves_only_its_own_service_account(slug: str, account: str, writes: bool) -> None:
    run = run_program(cached())
    role = one(run.resources, ROLE, f"model-cache-{slug}-role")
    trust = policy_of(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {
        "aws:RequestTag/eks-cluster-name": "workshop",
        "aws:RequestTag/kubernetes-namespace": "inferctl",
        "aws:RequestTag/kubernetes-service-account": account,
    }
    association = one(run.resources, ASSOCIATION, f"model-cache-{slug}-pod-identity").inputs
    assert (association["namespace"], association["serviceAccount"]) == ("inferctl", account)
    assert association["roleArn"] == f"arn:aws:iam::123456789012:role/workshop-model-cache-{slug}-us-east-1"
    document = policy_of(one(run.resources, ROLE_POLICY, f"model-cache-{slug}"))
    actions = actions_of(document)
    assert "s3:DeleteObject" not in actions and "s3:*" not in actions
    objects = next(s for s in document["Statement"] if s["Sid"] == "ModelObjects")
    assert objects["Resource"] == "arn:aws:s3:::workshop-model-cache-offline/models/*"
    assert ("s3:PutObject" in objects["Action"]) is writes


def _compile_grant(slug: str, cache: dict[str, Any] | None = None) -> dict[str, Any] | None:
    document = policy_of(one(run_program(cached(**(cache or {}))).resources, ROLE_POLICY, f"model-cache-{slug}"))
    listing = next(s for s in document["Statement"] if s["Sid"] == "ListModels")
    grant = next((s for s in document["Statement"] if s["Sid"] == "CompileCacheObjects"), None)
    assert ("compile-cache/*" in listing["Condition"]["StringLike"]["s3:prefix"]) is (grant is not None)
    return grant


def test_only_the_compile_job_writes_the_compile_cache_and_the_model_pods_read_it() -> None:
    compiler = _compile_grant("compiler")
    assert compiler is not None and "s3:PutObject" in compiler["Action"]
    assert compiler["Resource"] == "arn:aws:s3:::workshop-model-cache-offline/compile-cache/*"
    reader = _compile_grant("reader")
    assert reader is not None and reader["Action"] == ["s3:GetObject"]
    assert _compile_grant("writer") is None  # the mirror never touches it


def test_no_compile_cache_no_compiler_role() -> None:
    run = run_program(cached(compile_cache=False))
    assert not [r for r in of_type(run.resources, ROLE) if "compiler" in r.name]
    assert _compile_grant("reader", {"compile_cache": False}) is None


def test_offline_plan_lists_bucket_policies_and_pod_identity() -> None:
    plan = offline_plan(cached())
    types = {r["type"] for r in plan["resources"]}
    assert {BUCKET, "aws:s3/bucketPolicy:BucketPolicy", ROLE_POLICY, ASSOCIATION} <= types
    assert plan["components"]["model_cache"] == {
        "bucket": "workshop-model-cache-<generated>",
        "destroyed_with_platform": True,
        "pod_identity": [
            f"inferctl/{COMPILE_SERVICE_ACCOUNT}",
            f"inferctl/{MIRROR_SERVICE_ACCOUNT}",
            f"inferctl/{MODEL_SERVICE_ACCOUNT}",
        ],
    }


def test_the_generated_bucket_reaches_the_deployment(tmp_path: Path) -> None:
    """After up, the Kubernetes target renders with the bucket Pulumi named (saved in the stack outputs)."""
    target = AwsTarget(cached(), Home(tmp_path))
    assert target.kubernetes(include_karpenter=False).config.cache.bucket is None
    target.save_outputs({"cluster_name": "workshop", "model_cache_bucket": "workshop-model-cache-20261128abc"})
    config = target.kubernetes(include_karpenter=False).config
    assert config.cache.bucket == "workshop-model-cache-20261128abc"
    objects = render_platform(config, {"llama3": g5_xlarge_placement("llama3")})
    args = one_object(objects, "Deployment", "llama3")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == f"s3://workshop-model-cache-20261128abc/models/{WORKSHOP_MODEL}/abc123/"


def test_up_deploys_with_the_bucket_the_stack_just_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first up has no saved outputs when it starts: the models must still get the bucket Pulumi created.
    Seams faked: the preflight (AWS APIs), the Pulumi deployment, and the Kubernetes target's own up."""
    from inferctl.aws import preflight, stack
    from inferctl.progress import NullReporter
    from inferctl.targets.kubernetes import KubernetesTarget

    monkeypatch.setenv("HF_TOKEN", "hf_test_token_value_0123456789")
    report = preflight.PreflightReport()
    report.add("pulumi", "ok", str(tmp_path / "pulumi"))
    monkeypatch.setattr(preflight, "run_preflight", lambda *a, **k: report)
    outputs = {"cluster_name": "workshop", "endpoint": "https://x", "model_cache_bucket": "workshop-model-cache-abc"}
    monkeypatch.setattr(stack, "deploy", lambda *a, **k: outputs)
    seen: list[str | None] = []

    def fake_up(self: KubernetesTarget, reporter: Any) -> list[Any]:
        seen.append(self.config.cache.bucket)
        return []

    monkeypatch.setattr(KubernetesTarget, "up", fake_up)
    monkeypatch.setattr(KubernetesTarget, "placements", lambda self: {"llama3": g5_xlarge_placement("llama3")})
    AwsTarget(cached(), Home(tmp_path)).up(NullReporter())
    assert seen == ["workshop-model-cache-abc"]
