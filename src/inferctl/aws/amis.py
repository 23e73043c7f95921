"""The preflight's proof that both Karpenter pools will find an AMI: the SSM parameters Karpenter reads, read first.

The GPU pool needs the NVIDIA variant (Karpenter matches it to instances with GPUs), the CPU pool the standard
one (matched to instances without accelerators): ``Variant.Requirements`` in aws/karpenter-provider-aws v1.14.1
``pkg/providers/amifamily/types.go``. The parameter names are :func:`inferctl.config.ami_aliases.ssm_parameter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferctl.config.ami_aliases import DEFAULT_AMI_ALIAS, ssm_parameter
from inferctl.config.models import PlatformConfig

GET_PARAMETERS_BATCH = 10  # the most names one SSM GetParameters call accepts


@dataclass(frozen=True)
class PoolImage:
    pool: str  # "gpu" | "cpu"
    alias: str
    parameter: str


def pool_images(config: PlatformConfig) -> list[PoolImage]:
    """The SSM parameter each pool's alias resolves through for the cluster's version."""
    version = config.aws.cluster_version
    images = []
    for pool, nvidia in (("gpu", True), ("cpu", False)):
        alias = getattr(config.pools, pool).ami_alias
        parameter = ssm_parameter(alias, version, nvidia=nvidia)
        if parameter is not None:
            images.append(PoolImage(pool, alias, parameter))
    return images


def missing_images(config: PlatformConfig, ssm: Any) -> tuple[list[PoolImage], list[PoolImage]]:
    """(found, missing): read with SSM GetParameters, which lists unknown names under ``InvalidParameters``."""
    images = pool_images(config)
    names = sorted({image.parameter for image in images})
    invalid: set[str] = set()
    for start in range(0, len(names), GET_PARAMETERS_BATCH):
        response = ssm.get_parameters(Names=names[start : start + GET_PARAMETERS_BATCH])
        invalid.update(response.get("InvalidParameters", []))
    found = [image for image in images if image.parameter not in invalid]
    return found, [image for image in images if image.parameter in invalid]


def missing_detail(config: PlatformConfig, missing: list[PoolImage]) -> str:
    pools = ", ".join(f"pools.{m.pool}.ami_alias {m.alias} ({m.parameter})" for m in missing)
    return (
        f"no AMI for Kubernetes {config.aws.cluster_version} in {config.aws.region}: {pools}; Karpenter would "
        f"launch no node. Use an alias with this version's variants, e.g. {DEFAULT_AMI_ALIAS}"
    )
