"""Every Kubernetes name inferctl writes in one place and reads in another: labels, annotations, node labels, the
GPU resource and the container port's name.

The renderers write them and kube/ (status, diagnosis, teardown, node views) reads them, so both import them from
here; a key spelled twice would let one side drift silently. The ``inferctl.io/*`` keys are what the Kubernetes
target selects on, so they are stable across releases. Keys of other systems: Kubernetes' well-known labels
(kubernetes/api, ``core/v1/well_known_labels.go``), Karpenter v1.14.1 (``pkg/apis/v1/labels.go``), the NVIDIA
device plugin's resource name.
"""

from __future__ import annotations

import hashlib

# --- inferctl's own labels and annotations ---------------------------------------------------------------------
LABEL_PLATFORM = "inferctl.io/platform"
LABEL_MODEL = "inferctl.io/model"
LABEL_POOL = "inferctl.io/pool"
# On a Secret inferctl made (label) and a namespace it created (annotation); value: the platform's name.
CREATED_BY = "inferctl.io/created-by"
LABEL_MIRROR_OF = "inferctl.io/mirror-of"
LABEL_COMPILE_OF = "inferctl.io/compile-cache-of"
ANNOTATION_PURPOSE = "inferctl.io/purpose"
ANNOTATION_KEYS = "inferctl.io/keys"
ANNOTATION_CACHE_URI = "inferctl.io/cache-uri"
# What sizing chose, on the Deployment (``status`` reads the instance type back).
ANNOTATION_SOURCE = "inferctl.io/source"
ANNOTATION_INSTANCE_TYPE = "inferctl.io/instance-type"
ANNOTATION_GPU = "inferctl.io/gpu"
ANNOTATION_MAX_MODEL_LEN = "inferctl.io/max-model-len"
ANNOTATION_KV_CACHE_TOKENS = "inferctl.io/kv-cache-tokens"
# On a model pod: the name clients send as ``model``, which the gateway registers the pod under (smg's
# ``--model-id-from annotation:<key>``; an annotation because a served name may not be a valid label value).
ANNOTATION_SERVED_MODEL_NAME = "inferctl.io/served-model-name"

# --- Kubernetes' recommended labels ----------------------------------------------------------------------------
APP_NAME = "app.kubernetes.io/name"
APP_INSTANCE = "app.kubernetes.io/instance"
APP_COMPONENT = "app.kubernetes.io/component"
APP_PART_OF = "app.kubernetes.io/part-of"
APP_MANAGED_BY = "app.kubernetes.io/managed-by"

# --- node labels and resources ---------------------------------------------------------------------------------
NODE_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
NODE_INSTANCE_TYPE_BETA = "beta.kubernetes.io/instance-type"
NODE_ZONE = "topology.kubernetes.io/zone"
EKS_NODEGROUP = "eks.amazonaws.com/nodegroup"  # set by EKS on managed nodes; controllers select on it
KARPENTER_NODEPOOL = "karpenter.sh/nodepool"
KARPENTER_NODECLAIM = "karpenter.sh/nodeclaim"
KARPENTER_CAPACITY_TYPE = "karpenter.sh/capacity-type"
KARPENTER_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
KARPENTER_DISCOVERY = "karpenter.sh/discovery"  # EC2NodeClass finds subnets and security groups by this tag
GPU_RESOURCE = "nvidia.com/gpu"
KARPENTER_API = "karpenter.sh/v1"  # apiVersion of NodePool and NodeClaim (schemas/karpenter-v1.14.1)

# The container port's name; Service targetPort, probes and PodMonitor refer to it by name, never by number.
PORT_NAME = "http"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # set on a Job's pods by the Job controller (Kubernetes >= 1.27)


def system_node_group(cluster_name: str) -> str:
    """The aws platform's EKS managed node group of system nodes (aws/eks.py names it; the gateway selects it
    through :data:`EKS_NODEGROUP`). EKS node group names: at most 63 characters."""
    return f"{cluster_name}-system"[:63]


def bounded_name(name: str, limit: int) -> str:
    """``name`` when it fits in ``limit`` characters; else cut and made unique with a short hash of the whole, so
    two long names that share their first ``limit`` characters still differ."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - 9]}-{digest}"
