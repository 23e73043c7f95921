"""Config fields the renderers own: the pinned vLLM image, pool AMI aliases, the CPU pool's data volume,
PodMonitor labels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferctl.config.loader import parse_config
from inferctl.config.models import VLLM_IMAGE, KubernetesSettings, PlatformConfig
from inferctl.errors import ConfigError


@pytest.mark.parametrize(
    "image",
    [
        VLLM_IMAGE,
        "vllm/vllm-openai:v0.22.0",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.32.0",
        "registry.local:5000/vllm-openai:0.30.1-cu130",
        "vllm/vllm-openai@sha256:" + "a" * 64,
        "mirror/custom-vllm:nightly@sha256:" + "b" * 64,
    ],
)
def test_pinned_images_are_accepted(image: str) -> None:
    assert KubernetesSettings(image=image).image == image


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("vllm/vllm-openai:v0.5.0.post1", "older than vLLM 0.22.0"),  # the workshop's image
        ("vllm/vllm-openai:v0.21.9", "CVE-2026-48746"),
        ("vllm/vllm-openai:latest", "not pinned"),
        ("vllm/vllm-openai", "not pinned"),
        ("registry.local:5000/vllm-openai", "not pinned"),
        ("vllm/vllm-openai:nightly", "not a vLLM release"),
    ],
)
def test_unpinned_or_vulnerable_images_are_refused(image: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        KubernetesSettings(image=image)


def test_image_error_names_the_yaml_line() -> None:
    text = "target: kubernetes\nkubernetes:\n  image: vllm/vllm-openai:v0.5.0.post1\n"
    with pytest.raises(ConfigError, match=r"inferctl.yaml:3: kubernetes.image: .*0\.22\.0"):
        parse_config(text)


def test_new_fields_have_defaults_that_keep_old_files_valid() -> None:
    config = PlatformConfig()
    assert config.pools.cpu.data_volume_gib == 50
    assert config.observability.monitor_labels == {}
    assert config.kubernetes.image == VLLM_IMAGE
    parsed = parse_config("pools:\n  cpu:\n    data_volume_gib: 80\nobservability:\n  monitor_labels: {release: kps}\n")
    assert parsed.pools.cpu.data_volume_gib == 80
    assert parsed.observability.monitor_labels == {"release": "kps"}
