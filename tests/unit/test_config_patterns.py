"""Pattern-checked config fields fail in plain words: what the value should look like, never pydantic's
"String should match pattern '^...$'". Before, every one of these read as a regular expression."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from inferctl.config import PlatformConfig, parse_config
from inferctl.config.models import PATTERN_HINTS
from inferctl.errors import ConfigError


def _patterns(model: type[BaseModel]) -> set[str]:
    """Every ``pattern`` a field of ``model`` or of a nested section uses (from the JSON Schema pydantic writes)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(model.model_json_schema())
    return found


def test_every_pattern_a_field_uses_has_words() -> None:
    patterns = _patterns(PlatformConfig)
    assert len(patterns) >= 9
    assert patterns <= set(PATTERN_HINTS), patterns - set(PATTERN_HINTS)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("aws:\n  region: Virginia\n", "aws.region: 'Virginia' is not an AWS region code such as us-east-1"),
        ("aws:\n  vpc_id: my-vpc\n", "aws.vpc_id: 'my-vpc' is not a VPC id such as vpc-"),
        ("aws:\n  cluster_version: '2.0'\n", "aws.cluster_version: '2.0' is not a Kubernetes minor version"),
        ("pools:\n  gpu:\n    consolidate_after: soon\n", "'soon' is not a duration such as 30s, 15m or 1h, or Never"),
        ("cache:\n  bucket: My_Bucket\n", "cache.bucket: 'My_Bucket' is not an S3 bucket name"),
        ("observability:\n  prometheus_url: prom:9090\n", "'prom:9090' is not an http:// or https:// URL"),
    ],
)
def test_a_value_of_the_wrong_shape_says_what_the_shape_is(yaml_text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as failed:
        parse_config(yaml_text, source="x.yaml")
    assert expected in failed.value.message
    assert "should match pattern" not in failed.value.message
    assert failed.value.exit_code == 2
