"""Config: pydantic models of ``inferctl.yaml``, loading with precise errors, overrides and the JSON Schema."""

from inferctl.config.loader import (
    DEFAULT_CONFIG_FILE,
    apply_overrides,
    format_loc,
    json_schema,
    load_config,
    parse_config,
)
from inferctl.config.models import (
    DEMO_SOURCE,
    VLLM_IMAGE,
    VLLM_VERSION,
    AwsTarget,
    CpuPool,
    EndpointSettings,
    EngineSettings,
    GpuPool,
    KubernetesTarget,
    LocalTarget,
    ModelDeployment,
    PlatformConfig,
)
from inferctl.config.starter import STARTER_YAML
from inferctl.config.traits import TARGETS, TRAITS, TargetName, TargetTraits

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEMO_SOURCE",
    "STARTER_YAML",
    "TARGETS",
    "TRAITS",
    "VLLM_IMAGE",
    "VLLM_VERSION",
    "AwsTarget",
    "CpuPool",
    "EndpointSettings",
    "EngineSettings",
    "GpuPool",
    "KubernetesTarget",
    "LocalTarget",
    "ModelDeployment",
    "PlatformConfig",
    "TargetName",
    "TargetTraits",
    "apply_overrides",
    "format_loc",
    "json_schema",
    "load_config",
    "parse_config",
]
