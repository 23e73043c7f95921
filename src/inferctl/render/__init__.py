"""Pure renderers: config + sizing placements -> the Kubernetes objects the cluster gets (plain dicts).

No I/O, no clock, no randomness: the same input renders the same objects in the same order. One module per
concern: ``workload`` (Deployment, model cache), ``exposure`` (Service, PDB, NetworkPolicy), ``gateway`` (the
platform's one entry), ``wake`` (how a model asleep at zero is reached), ``karpenter``
(EC2NodeClass + NodePool per pool, device plugin), ``observability`` (PodMonitor, Grafana dashboard),
``secrets`` (shapes; values only at apply time), ``order`` (apply and delete order), ``output`` (YAML).
"""

from inferctl.kube_names import LABEL_MODEL, LABEL_PLATFORM
from inferctl.render.exposure import render_exposure, render_service, service_type
from inferctl.render.gateway import gateway_name, render_gateway
from inferctl.render.karpenter import node_role_name, render_karpenter
from inferctl.render.meta import Object, render_namespace
from inferctl.render.observability import render_observability
from inferctl.render.order import APPLY_ORDER, kind_rank, sort_for_apply, sort_for_delete
from inferctl.render.output import write_directory, yaml_stream
from inferctl.render.platform import check_platform, render_platform
from inferctl.render.secrets import SecretValues, render_secrets
from inferctl.render.workload import (
    CONTAINER_NAME,
    check_cluster_model,
    container_args,
    effective_engine_args,
    render_workload,
)

__all__ = [
    "APPLY_ORDER",
    "CONTAINER_NAME",
    "LABEL_MODEL",
    "LABEL_PLATFORM",
    "Object",
    "SecretValues",
    "check_cluster_model",
    "check_platform",
    "container_args",
    "effective_engine_args",
    "gateway_name",
    "kind_rank",
    "node_role_name",
    "render_exposure",
    "render_gateway",
    "render_karpenter",
    "render_namespace",
    "render_observability",
    "render_platform",
    "render_secrets",
    "render_service",
    "render_workload",
    "service_type",
    "sort_for_apply",
    "sort_for_delete",
    "write_directory",
    "yaml_stream",
]
