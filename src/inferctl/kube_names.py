"""Every Kubernetes name inferctl writes in one place and reads in another: labels, annotations, node labels, the
GPU resource and the container port's name.

The renderers write them and kube/ (status, diagnosis, teardown, node views) reads them, so both import them from
here; a key spelled twice would let one side drift silently. The ``inferctl.io/*`` keys are what the Kubernetes
target selects on, so they are stable across releases. Keys of other systems: Kubernetes' well-known labels
(kubernetes/api, ``core/v1/well_known_labels.go``), Karpenter v1.14.1 (``pkg/apis/v1/labels.go``), the NVIDIA
device plugin's resource name.
"""

from __future__ import annotations

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
EKS_NODEGROUP = "eks.amazonaws.com/nodegroup"
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
