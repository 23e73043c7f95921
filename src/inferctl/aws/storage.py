"""Storage for ``kubernetes.model_cache: pvc`` and the S3 cache's mirror Jobs on EKS: the EBS CSI driver add-on and
a gp3 StorageClass.

EKS ships no CSI driver: without one a PersistentVolumeClaim stays Pending and the model never starts. Created
only when the config asks for a PVC, or serves a model from the S3 cache (each mirror Job downloads into a
generic ephemeral volume of its own: render/model_cache.py). Facts: the driver's controller runs as
``kube-system/ebs-csi-controller-sa`` and provisions through ``ebs.csi.aws.com`` (kubernetes-sigs/aws-ebs-csi-driver,
``charts/aws-ebs-csi-driver``: values.yaml ``controller.serviceAccount.name``, templates/ebs-csi-default-sc.yaml);
its permissions are the AWS managed policy ``service-role/AmazonEBSCSIDriverPolicy``, given through EKS Pod
Identity like the other controllers.

Each volume carries ``kubernetes.io/cluster/<cluster>=owned`` (StorageClass parameter ``tagSpecification_<n>``:
aws-ebs-csi-driver v1.64.0 docs/tagging.md; the driver itself adds that tag only with ``--k8s-tag-cluster-id``),
so the leftover scan after ``down`` finds a volume whose deletion the removed driver never finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from inferctl.aws.context import ProgramContext, assume_role_policy
from inferctl.aws.eks import Cluster
from inferctl.aws.storage_names import EBS_CSI_DRIVER, MODEL_CACHE_STORAGE_CLASS
from inferctl.sizing.system_pods import installs_ebs_csi_driver

ADDON = "aws-ebs-csi-driver"
SERVICE_ACCOUNT = "ebs-csi-controller-sa"
MANAGED_POLICY = "service-role/AmazonEBSCSIDriverPolicy"
PROVISIONER = EBS_CSI_DRIVER
STORAGE_CLASS = MODEL_CACHE_STORAGE_CLASS
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def storage_class_parameters(cluster_name: str) -> dict[str, str]:
    """gp3, encrypted, and tagged for the cluster like Karpenter's instances (the leftover scan's key)."""
    return {"type": "gp3", "encrypted": "true", "tagSpecification_1": f"kubernetes.io/cluster/{cluster_name}=owned"}


@dataclass(frozen=True)
class ModelCacheStorage:
    addon: aws.eks.Addon
    storage_class: k8s.storage.v1.StorageClass


def needs_storage(ctx: ProgramContext) -> bool:
    return installs_ebs_csi_driver(ctx.config)


def build_model_cache_storage(ctx: ProgramContext, cluster: Cluster) -> ModelCacheStorage | None:
    if not needs_storage(ctx):
        return None
    role = ctx.iam_role("ebs-csi-role", "ebs-csi", assume_role_policy("pods.eks.amazonaws.com", tag_session=True))
    attachment = aws.iam.RolePolicyAttachment(
        "ebs-csi-policy", role=role.name, policy_arn=ctx.managed_policy_arn(MANAGED_POLICY), opts=ctx.opts()
    )
    version: pulumi.Input[str] = aws.eks.get_addon_version_output(
        addon_name=ADDON,
        kubernetes_version=ctx.config.aws.cluster_version,
        most_recent=False,
        opts=ctx.invoke_opts(),
    ).version
    addon = aws.eks.Addon(
        f"addon-{ADDON}",
        cluster_name=cluster.name,
        addon_name=ADDON,
        addon_version=version,
        pod_identity_associations=[
            aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=SERVICE_ACCOUNT)
        ],
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        opts=ctx.opts(depends_on=[cluster.node_group, cluster.addons["eks-pod-identity-agent"], attachment]),
    )
    storage_class = k8s.storage.v1.StorageClass(
        "model-cache-storage-class",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, annotations={DEFAULT_CLASS_ANNOTATION: "true"}),
        provisioner=PROVISIONER,
        parameters=storage_class_parameters(ctx.cluster_name),
        volume_binding_mode="WaitForFirstConsumer",  # the volume is made in the zone the pod lands in
        allow_volume_expansion=True,
        reclaim_policy="Delete",  # the cache is re-downloadable: 'down' must not leave billable volumes
        opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[addon]),
    )
    return ModelCacheStorage(addon=addon, storage_class=storage_class)
