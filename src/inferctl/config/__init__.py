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
    VLLM_IMAGE,
    VLLM_VERSION,
    AwsSettings,
    CpuPool,
    EndpointSettings,
    EngineSettings,
    GpuPool,
    KubernetesSettings,
    LocalSettings,
    ModelDeployment,
    PlatformConfig,
)
from inferctl.config.starter import STARTER_YAML
from inferctl.demo_model import DEMO_SOURCE
from inferctl.traits import TARGETS, TRAITS, TargetName, TargetTraits

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEMO_SOURCE",
    "STARTER_YAML",
    "TARGETS",
    "TRAITS",
    "VLLM_IMAGE",
    "VLLM_VERSION",
    "AwsSettings",
    "CpuPool",
    "EndpointSettings",
    "EngineSettings",
    "GpuPool",
    "KubernetesSettings",
    "LocalSettings",
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
