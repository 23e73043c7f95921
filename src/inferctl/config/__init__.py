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
    TARGETS,
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
    TargetName,
)
from inferctl.config.starter import STARTER_YAML

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEMO_SOURCE",
    "STARTER_YAML",
    "TARGETS",
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
    "apply_overrides",
    "format_loc",
    "json_schema",
    "load_config",
    "parse_config",
]
