"""Which Karpenter AMI aliases have images for which Kubernetes version, and the SSM parameters that prove it.

Karpenter v1.14.1 resolves an alias by reading SSM parameters whose path holds the cluster's Kubernetes version
(aws/karpenter-provider-aws v1.14.1, ``pkg/providers/amifamily/bottlerocket.go`` and ``al2023.go``); an alias
whose release has no image for that version leaves the EC2NodeClass ``AMIsReady=False`` and no node ever launches.

Bottlerocket publishes one variant per Kubernetes version (``aws-k8s-1.36``, ``aws-k8s-1.36-nvidia``), added in
one release and removed in a later one. The table below is what the release notes say; where they are silent it
says nothing (``None``), and ``inferctl aws preflight`` reads the real SSM parameters before anything is created.

AL2023 releases are dated (``al2023@v20250715``) and published for every Kubernetes version EKS supports on
that date; no table of those dates is packaged here (they cannot be checked offline), so for AL2023 the config
checks the version's format and the preflight's SSM lookup is the proof.
"""

from __future__ import annotations

import re

BOTTLEROCKET = "bottlerocket"
AL2023 = "al2023"

# Bottlerocket release notes: Kubernetes minor -> (first release with its aws-k8s variants, first release without).
# v1.20.0 "Add Kubernetes 1.30 variants", v1.22.0 "Add Kubernetes 1.31 variants": bottlerocket-os/bottlerocket
# CHANGELOG.md (snapshot of 2024-10-24). 1.34 from v1.47.0, 1.35 from v1.53.0 (NVIDIA R580 drivers), 1.36 from
# v1.61.0, 1.37 from v1.66.0, 1.30 removed in v1.64.0: Bottlerocket release notes as quoted in inferctl issue 11
# and DESIGN.md ("Facts about systems we do not own"). 1.32 and 1.33: first release not in our sources.
BOTTLEROCKET_VARIANTS: dict[str, tuple[str | None, str | None]] = {
    "1.30": ("1.20.0", "1.64.0"),
    "1.31": ("1.22.0", None),
    "1.32": (None, None),
    "1.33": (None, None),
    "1.34": ("1.47.0", None),
    "1.35": ("1.53.0", None),
    "1.36": ("1.61.0", None),
    "1.37": ("1.66.0", None),
}
NEWEST_BOTTLEROCKET_KNOWN = "1.68.0"  # the newest release our sources saw (2026)
DEFAULT_AMI_ALIAS = f"{BOTTLEROCKET}@v{NEWEST_BOTTLEROCKET_KNOWN}"

# How GPU nodes pull images (pools.gpu.image_pull), and the first Bottlerocket release whose settings reference
# documents the settings each mode writes. bottlerocket-os/bottlerocket-project-website at d8a83fb (2026-04-14; the
# site's newest docs are 1.57.x, each version inheriting the settings data of the versions before it):
# data/settings/1.44.x/container-runtime.toml (``snapshotter``: overlayfs | soci), data/settings/1.44.x/
# container-runtime-plugins.toml (the SOCI parallel-pull-unpack settings), data/settings/1.47.x/container-runtime.toml
# (``concurrent-download-chunk-size``, used only by variants with containerd 2.1 or above). Older releases ignore
# the settings (the node boots and pulls sequentially), so an explicit mode they lack is refused in the config.
SEQUENTIAL_PULL = "sequential"
IMAGE_PULL_SINCE = {"soci-parallel": "1.44.0", "containerd-chunked": "1.47.0"}

ARCHITECTURE = "x86_64"  # both pools run x86_64 instance types (the GPU families and the c/m/r categories)


def ami_family(alias: str) -> str:
    """``bottlerocket@v1.49.0`` -> ``bottlerocket``."""
    return alias.split("@", 1)[0]


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def bottlerocket_version(alias_version: str) -> str | None:
    """``v1.68.0`` or ``1.68.0`` -> ``1.68.0`` (Karpenter trims the ``v``); None when it is not x.y.z."""
    trimmed = alias_version.lstrip("v")
    return trimmed if re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", trimmed) else None


def alias_problem(alias: str, kubernetes_version: str) -> str | None:
    """Why ``alias`` has no image for ``kubernetes_version`` as far as the packaged table knows, else None."""
    family, _, version = alias.partition("@")
    if family == AL2023:
        if not re.fullmatch(r"v[0-9]{8}", version):
            return f"{alias!r} is not an AL2023 release; AL2023 aliases are dated, e.g. al2023@v20250715"
        return None
    if family != BOTTLEROCKET:
        return None
    release = bottlerocket_version(version)
    if release is None:
        return f"{alias!r} is not a Bottlerocket release; name one such as {DEFAULT_AMI_ALIAS}"
    known = BOTTLEROCKET_VARIANTS.get(kubernetes_version)
    if known is None:
        return None  # a version outside the table: the preflight's SSM lookup decides
    first, removed = known
    variant = f"aws-k8s-{kubernetes_version}"
    if first is not None and _semver(release) < _semver(first):
        return f"Bottlerocket v{release} has no {variant} variants (they start at v{first}); use {DEFAULT_AMI_ALIAS}"
    if removed is not None and _semver(release) >= _semver(removed):
        return f"Bottlerocket v{release} has no {variant} variants (removed in v{removed}); raise the cluster version"
    return None


def image_pull_problem(alias: str, mode: str) -> str | None:
    """Why nodes booting ``alias`` cannot pull images the ``mode`` way, else None."""
    since = IMAGE_PULL_SINCE.get(mode)
    if since is None:
        return None
    family, _, version = alias.partition("@")
    if family != BOTTLEROCKET:
        return f"{mode} is configured through Bottlerocket's settings; {alias!r} is not a Bottlerocket alias"
    release = bottlerocket_version(version)
    if release is None or _semver(release) < _semver(since):
        return f"{mode} needs Bottlerocket v{since} or later (the alias is {alias!r})"
    return None


def effective_image_pull(alias: str, mode: str) -> str:
    """The pull mode nodes booting ``alias`` really use: ``mode``, or sequential where the AMI lacks it."""
    return SEQUENTIAL_PULL if image_pull_problem(alias, mode) else mode


def ssm_parameter(alias: str, kubernetes_version: str, *, nvidia: bool) -> str | None:
    """The SSM parameter Karpenter v1.14.1 reads for this alias's x86_64 image (None: not a resolvable family).

    Paths from aws/karpenter-provider-aws v1.14.1: ``bottlerocket.go`` (``/aws/service/bottlerocket/aws-k8s-<k8s>
    [-nvidia]/x86_64/<version without v>/image_id``) and ``al2023.go`` ``resolvePath`` (``/aws/service/eks/
    optimized-ami/<k8s>/amazon-linux-2023/x86_64/<variant>/amazon-eks-node-al2023-x86_64-<variant>-<k8s>-<version>
    /image_id``).
    """
    family, _, version = alias.partition("@")
    if family == BOTTLEROCKET:
        suffix = "-nvidia" if nvidia else ""
        trimmed = version.lstrip("v")
        return f"/aws/service/bottlerocket/aws-k8s-{kubernetes_version}{suffix}/{ARCHITECTURE}/{trimmed}/image_id"
    if family == AL2023:
        variant = "nvidia" if nvidia else "standard"
        name = f"amazon-eks-node-al2023-{ARCHITECTURE}-{variant}-{kubernetes_version}-{version}"
        return (
            f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{ARCHITECTURE}/{variant}/"
            f"{name}/image_id"
        )
    return None
