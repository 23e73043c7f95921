"""Shared pieces of the diagram tests: the workshop config, a fixed placement, and a reader of DOT source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inferctl.config.loader import parse_config
from inferctl.config.models import PlatformConfig
from inferctl.sizing.placement import Placement, PodResources

# The workshop, as inferctl expresses it: EKS + Karpenter on AWS, Llama 3 8B Instruct, everything else default
# (the pools g5-gpu-karpenter / x86-cpu-karpenter, system nodes sized by auto, hf-secret, an internal NLB).
WORKSHOP_YAML = """\
name: genai
target: aws
models:
  - name: llama3
    source: meta-llama/Meta-Llama-3-8B-Instruct
"""


def workshop_config() -> PlatformConfig:
    return parse_config(WORKSHOP_YAML, source="workshop.yaml")


def fixed_placement(model: str = "llama3") -> Placement:
    """A placement like sizing gives Llama 3 8B on a g5.xlarge (numbers fixed so golden files stay stable)."""
    return Placement(
        model=model,
        instance_type="g5.xlarge",
        gpu_name="A10G",
        gpu_memory_gib=24.0,
        tensor_parallel_size=1,
        max_model_len=8192,
        gpu_memory_utilization=0.9,
        kv_cache_tokens=51_200,
        max_concurrency=6.25,
        weight_gib=15.0,
        kv_bytes_per_token=131_072,
        resources=PodResources(gpus=1, cpu="3", memory="12Gi", ephemeral_storage="80Gi", shm="4Gi"),
        on_demand_usd_per_hour=1.006,
        spot_usd_per_hour=0.4024,
        spot_is_estimate=True,
        price_region="us-east-1",
        instance_gpu_count=1,
    )


@dataclass
class DotStructure:
    """What a DOT source declares: each node with the clusters around it (outermost first), and the edges."""

    nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    clusters: set[str] = field(default_factory=set)


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SUBGRAPH = re.compile(r"^subgraph (\w+) \{$")
_EDGE = re.compile(r"^(\w+) -> (\w+)(?: \[.*\])?$")
_NODE = re.compile(r"^(\w+)(?: \[.*\])?$")


def read_dot(source: str) -> DotStructure:
    """Parse the DOT that the graphviz package writes (one statement per line once quoted text is blanked)."""
    # Labels may hold newlines; blank every quoted string so each statement sits on one line.
    text = _QUOTED.sub('""', source)
    out = DotStructure()
    stack: list[str] = []
    for raw in text.splitlines()[1:]:  # the first line opens the digraph
        line = raw.strip()
        if not line:
            continue
        if match := _SUBGRAPH.match(line):
            name = match.group(1).removeprefix("cluster_")
            stack.append(name)
            out.clusters.add(name)
        elif line == "}":
            if stack:
                stack.pop()
        elif match := _EDGE.match(line):
            out.edges.add((match.group(1), match.group(2)))
        elif (match := _NODE.match(line)) and match.group(1) not in {"graph", "node", "edge"}:
            out.nodes[match.group(1)] = tuple(stack)
    return out
