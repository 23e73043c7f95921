"""The GPU pool's image-pull user data, checked against Bottlerocket's settings model, its settings reference and the
core-kit templates that turn the settings into containerd's and soci-snapshotter's configuration.

The pinned release is bottlerocket@v1.68.0 (config/ami_aliases.py). Its tag cannot be read here: the snapshot of
bottlerocket-os/bottlerocket that ``fetch`` brings ends at v1.26.0 (91632ff, 2024-10-24), and the code index holds
its CHANGELOG and Twoliter.toml only from 2024, so which core-kit v1.68.0 builds on cannot be read from its lock
file. It is no older than core-kit v16.1.0: that release (2026-09-03) first adds the ``kubernetes-1.37`` package,
which the aws-k8s-1.37 variants (from v1.66.0) need. The sources below are the newest upstream ones found, read at
or after that point where they are dated; all data is copied (no code):

* bottlerocket-os/bottlerocket-core-kit, the templates (the snapshot whose CHANGELOG.md tops at v16.1.0 with
  nothing unreleased; each template is one stored version of the code index, which does not date it):

  - ``packages/soci-snapshotter/soci-config-toml`` at a24677b: ``[pull_modes.parallel_pull_unpack]`` is enabled
    and filled from ``settings.container-runtime-plugins.soci-snapshotter.parallel-pull-unpack``'s six keys, with
    their defaults (-1, 3, unlimited, -1, 1, false); ``unlimited`` becomes an empty chunk size. ``pull-mode`` is read
    by no template (parallel-pull-unpack is the only mode).
  - ``packages/containerd-2.2/snapshotter-toml`` at a4afada: ``settings.container-runtime.snapshotter = "soci"``
    makes soci the CRI image snapshotter (a proxy plugin on ``/run/soci-snapshotter/soci-snapshotter.sock``).
  - ``packages/containerd-2.2/containerd-config-toml_k8s_nvidia_containerd_sock`` at 6c6b05a (the NVIDIA variants'
    containerd 2.2 config): ``max-concurrent-downloads``, ``max-concurrent-unpacks`` and
    ``concurrent-download-chunk-size`` (as ``concurrent_layer_fetch_buffer``, default 0: core-kit v12.0.0 "Disable
    concurrent layer fetch by default in containerd-2.1", so the chunked pull needs it set) feed the transfer
    service; ``max-container-log-line-size`` and the two ``enable-unprivileged-*`` the CRI runtime.
  - CHANGELOG.md (01d7fe2): v10.0.0 adds soci-snapshotter with parallel pull unpack; nothing up to v16.1.0 renames
    or drops these settings.

* bottlerocket-os/bottlerocket-settings-sdk, crate bottlerocket-settings-models (the settings Bottlerocket's API
  accepts since v1.21.0, "Use settings models vended by bottlerocket-settings-sdk", bottlerocket CHANGELOG.md):

  - ``settings-models/Cargo.toml`` and ``src/lib.rs`` at 09fb002 (version 0.28.0; CHANGELOG.md there, 0.28.0 of
    2026-09-11, core-kit v16.1.0 builds on 0.27.0): the models include ``settings-extension-container-runtime-plugins``
    (``ContainerRuntimePluginsSettingsV1``), added in 0.12.0; no later entry changes it.
  - ``settings-extensions/container-runtime/src/lib.rs`` at cb410c0 and at 985f108 (two later variants of the
    struct: ``cgroup-writable``, or ``log-level``, which no released version's CHANGELOG names yet):
    ``ContainerRuntimeSettingsV1``'s fields (kebab-case through ``#[model]``; i32 counts; ``enum Snapshotter
    {Overlayfs, Soci}``; ``concurrent-download-chunk-size`` an i64 through ``deserialize_optional_chunk_size``).
  - ``modeled-types/src/shared.rs`` at f2ca536: ``deserialize_chunk_size`` (byte_unit strings, non-negative).
  - Not found upstream: the source of ``settings-extensions/container-runtime-plugins`` itself. ``fetch`` brings
    the repository as of 2023-12-12 (7a138e9), before the models moved into it, and the code index holds the crate's
    files from one fork only, maherthomsi/bottlerocket-settings-sdk at 5a84632 (``src/lib.rs``, ``src/de.rs``). That
    fork stands in for the field types (i64 counts, ``ChunkSize {Unlimited, Bytes}``, ``SociSnapshotterPullMode
    {ParallelPullUnpack}``) and the byte-size examples of its tests; every key it has is also the upstream
    template's and the upstream reference's, with the same defaults.

* bottlerocket-os/bottlerocket-project-website, the settings reference (accepted values, defaults):
  data/settings/1.44.x/container-runtime-plugins.toml and 1.53.x/container-runtime-plugins.toml (88bd545, the
  newest version with the file; unchanged), 1.53.x/container-runtime.toml (88bd545) and 1.44.x, 1.47.x
  container-runtime.toml (d8a83fb, 2026-04-14); the site's data goes up to 1.64.x and no version after 1.53.x
  has these files (each version inherits the files of the versions before it). It still gives
  ``concurrent-download-chunk-size``'s default as 8mib, which core-kit v12.0.0 turned off (above).

Every key rendered here is in all of them and every value within every range they state.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from inferctl.config.models import PlatformConfig
from inferctl.render import render_karpenter
from inferctl.render.bottlerocket import toml_tables
from inferctl.sizing.memory import DATA_VOLUME_IOPS, DATA_VOLUME_THROUGHPUT_MIBS, PARALLEL_PULL_THROUGHPUT_MIBS
from tests.support.render import one, workshop_config

Check = Callable[[Any], bool]

I32 = (-(2**31), 2**31 - 1)
I64 = (-(2**63), 2**63 - 1)


def _int(low: int, high: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _boolean(v: Any) -> bool:
    return isinstance(v, bool)


def _one_of(*values: str) -> Check:
    return lambda v: v in values


# de.rs / shared.rs ``deserialize_chunk_size``: a non-negative integer (or its string), else a whitespace-free
# byte_unit size string, units case-insensitive, a leading '.' read as '0.'.
_SIZE = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[kmgtpe]i?b?|b)?", re.IGNORECASE)


def byte_size(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return 0 <= v <= I64[1]
    if not isinstance(v, str):
        return False
    text = v.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text) >= 0
    return bool(_SIZE.fullmatch(text))


_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def size_bytes(text: str) -> float:
    """A byte size string's value (kb = 1000 B, kib = 1024 B: the models' test expectations)."""
    match = re.fullmatch(r"([\d.]+)\s*([kmgt]?)(i?)b?", text.strip(), re.IGNORECASE)
    assert match is not None, text
    number, unit, binary = match.groups()
    unit = unit.lower()
    return float(number) * (_BINARY[unit] if binary else _UNITS[unit])


# Accepted values per setting. Types from the model; ranges from the settings reference where it states one.
CONTAINER_RUNTIME: dict[str, Check] = {
    "max-container-log-line-size": lambda v: _int(*I32)(v) and (v == -1 or v > 0),  # "-1 for no limit", positive
    "max-concurrent-downloads": lambda v: _int(*I32)(v) and v > 0,  # "a positive number"
    "max-concurrent-unpacks": _int(*I32),  # model 0.22.0; no range in the reference snapshot
    "concurrent-download-chunk-size": byte_size,  # "a positive integer", "a byte size string"
    "enable-unprivileged-ports": _boolean,
    "enable-unprivileged-icmp": _boolean,
    "snapshotter": _one_of("overlayfs", "soci"),  # "`overlayfs` (default)", "`soci`"
}
PARALLEL_PULL_UNPACK: dict[str, Check] = {
    "max-concurrent-downloads": lambda v: _int(*I64)(v) and (v == -1 or v > 0),  # "-1 for unbounded", positive
    "max-concurrent-downloads-per-image": lambda v: _int(*I64)(v) and v > 0,  # "positive integer"
    "concurrent-download-chunk-size": lambda v: v == "unlimited" or byte_size(v),  # "unlimited", byte size string
    "max-concurrent-unpacks": lambda v: _int(*I64)(v) and (v == -1 or v > 0),
    "max-concurrent-unpacks-per-image": lambda v: _int(*I64)(v) and v > 0,
    "discard-unpacked-layers": _boolean,
}
SETTINGS: dict[str, Any] = {
    "container-runtime": CONTAINER_RUNTIME,
    "container-runtime-plugins": {
        "soci-snapshotter": {
            "pull-mode": _one_of("parallel-pull-unpack"),
            "parallel-pull-unpack": PARALLEL_PULL_UNPACK,
        }
    },
}
# "Parallel layer fetch is enabled when this value is 512 bytes or greater" (1.47.x/container-runtime.toml).
CONTAINERD_PARALLEL_FETCH_MIN_BYTES = 512
# The models' own test examples (container-runtime-plugins/src/lib.rs and src/de.rs).
VALID_SIZES = ["8b", "16kb", "64mb", "1gb", "1.5gb", "100", "42.7MB", ".5gb", "1KiB", "1MiB", "1GiB", "1TiB", 1024, 0]
INVALID_SIZES = ["", "abc", "8.5.2mb", "1000 KB", "2.5 GB", "10 mb", "-1", "8 tb", "8 x", "hello world", -1, -100]
# What bottlerocket-core-kit's templates read (see the docstring), as paths under ``settings``: a setting no template
# reads would be accepted by the API and change nothing on the node.
TEMPLATE_READS = {
    "container-runtime.snapshotter",  # containerd-2.2/snapshotter-toml
    "container-runtime.max-container-log-line-size",  # containerd-config-toml_k8s_nvidia_containerd_sock
    "container-runtime.enable-unprivileged-ports",
    "container-runtime.enable-unprivileged-icmp",
    "container-runtime.max-concurrent-downloads",
    "container-runtime.max-concurrent-unpacks",
    "container-runtime.concurrent-download-chunk-size",
    *(f"container-runtime-plugins.soci-snapshotter.parallel-pull-unpack.{key}" for key in PARALLEL_PULL_UNPACK),
}
MODEL_ONLY = {"container-runtime-plugins.soci-snapshotter.pull-mode"}  # one mode: the template always enables it
# soci-config-toml's ``default`` helpers: what the node runs with when a setting is left out.
SOCI_TEMPLATE_DEFAULTS = {
    "max-concurrent-downloads": -1,
    "max-concurrent-downloads-per-image": 3,
    "concurrent-download-chunk-size": "unlimited",
    "max-concurrent-unpacks": -1,
    "max-concurrent-unpacks-per-image": 1,
    "discard-unpacked-layers": False,
}
CONTAINERD_TEMPLATE_CHUNK_DEFAULT = 0  # concurrent_layer_fetch_buffer: parallel layer fetch off
# gp3 limits in the EC2NodeClass CRD's field descriptions (Karpenter v1.14.1, /work/shared/schemas): throughput
# "Minimum value of 125. Maximum value of 1000"; IOPS "gp3: 3,000-16,000 IOPS".
GP3_THROUGHPUT = (125, 1000)
GP3_IOPS = (3000, 16000)


def problems(settings: Mapping[str, Any], model: Mapping[str, Any] = SETTINGS, path: str = "settings") -> list[str]:
    """Every key of ``settings`` the model lacks and every value its check refuses."""
    found = []
    for key, value in settings.items():
        where = f"{path}.{key}"
        if key not in model:
            found.append(f"{where}: not a setting")
        elif isinstance(model[key], Mapping):
            found += problems(value, model[key], where) if isinstance(value, Mapping) else [f"{where}: not a table"]
        elif not model[key](value):
            found.append(f"{where}: {value!r} is not accepted")
    return found


def _gpu_node_class(**gpu: object) -> dict[str, Any]:
    return one(render_karpenter(workshop_config(pools={"gpu": gpu})), "EC2NodeClass", "g5-gpu-karpenter")["spec"]


def _settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    document = tomllib.loads(spec["userData"])
    assert set(document) == {"settings"}
    settings: dict[str, Any] = document["settings"]
    return settings


def leaves(settings: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in settings.items():
        where = f"{path}.{key}" if path else key
        found |= leaves(value, where) if isinstance(value, Mapping) else {where: value}
    return found


@pytest.mark.parametrize("mode", ["soci-parallel", "containerd-chunked"])
def test_every_rendered_setting_reaches_the_nodes_configuration(mode: str) -> None:
    """Each setting is one core-kit's templates read into containerd's or soci's config (or the model's one mode),
    and none merely repeats the default those templates would use without it."""
    rendered = leaves(_settings(_gpu_node_class(image_pull=mode)))
    assert set(rendered) <= TEMPLATE_READS | MODEL_ONLY
    soci = "container-runtime-plugins.soci-snapshotter.parallel-pull-unpack."
    for path, value in rendered.items():
        if path.startswith(soci):
            assert value != SOCI_TEMPLATE_DEFAULTS[path.removeprefix(soci)], path
    if mode == "containerd-chunked":
        chunk = size_bytes(rendered["container-runtime.concurrent-download-chunk-size"])
        assert chunk != CONTAINERD_TEMPLATE_CHUNK_DEFAULT


def test_the_template_data_is_the_settings_models_own() -> None:
    """The three sources agree on the names: the template reads exactly the model's parallel-pull-unpack keys."""
    reads = {path.rsplit(".", 1)[1] for path in TEMPLATE_READS if ".parallel-pull-unpack." in path}
    assert reads == set(PARALLEL_PULL_UNPACK) == set(SOCI_TEMPLATE_DEFAULTS)
    container_runtime = {path.split(".", 1)[1] for path in TEMPLATE_READS if path.startswith("container-runtime.")}
    assert container_runtime == set(CONTAINER_RUNTIME)


def test_the_checks_agree_with_the_models_own_examples() -> None:
    assert all(byte_size(v) for v in VALID_SIZES)
    assert not any(byte_size(v) for v in INVALID_SIZES)
    assert size_bytes("64mb") == 64_000_000 and size_bytes("1MiB") == 2**20 and size_bytes(".5gb") == 5e8


def test_the_default_is_soci_parallel_pull_within_the_settings_model() -> None:
    spec = _gpu_node_class()
    settings = _settings(spec)
    assert problems(settings) == []
    assert settings["container-runtime"] == {"snapshotter": "soci"}
    soci = settings["container-runtime-plugins"]["soci-snapshotter"]
    assert soci["pull-mode"] == "parallel-pull-unpack"
    assert soci["parallel-pull-unpack"]["discard-unpacked-layers"] is True
    # The soci-snapshotter docs' advice for registry pulls: 8-16 MB chunks, 10-20 downloads per image.
    assert 8e6 <= size_bytes(soci["parallel-pull-unpack"]["concurrent-download-chunk-size"]) <= 16e6
    assert 10 <= soci["parallel-pull-unpack"]["max-concurrent-downloads-per-image"] <= 20
    # Karpenter writes settings.kubernetes itself (bottlerocketsettings.go); inferctl never competes with it.
    assert "kubernetes" not in settings


def test_containerd_chunked_pull_within_the_settings_model() -> None:
    settings = _settings(_gpu_node_class(image_pull="containerd-chunked"))
    assert problems(settings) == []
    assert set(settings) == {"container-runtime"} and "snapshotter" not in settings["container-runtime"]
    chunk = settings["container-runtime"]["concurrent-download-chunk-size"]
    assert size_bytes(chunk) >= CONTAINERD_PARALLEL_FETCH_MIN_BYTES


def test_a_setting_outside_the_model_is_caught() -> None:
    assert problems({"container-runtime": {"snapshotter": "stargz"}}) == [
        "settings.container-runtime.snapshotter: 'stargz' is not accepted"
    ]
    pull = {"max-concurrent-downloads-per-image": 0, "chunk": "8mb"}
    bad = {"container-runtime-plugins": {"soci-snapshotter": {"parallel-pull-unpack": pull}}}
    assert len(problems(bad)) == 2


def test_the_user_data_is_toml_bottlerocket_reads_back() -> None:
    text = toml_tables({"settings": {"a-b": {"c": "x", "d": 3, "e": True, "f": {"g": False}}}})
    assert tomllib.loads(text) == {"settings": {"a-b": {"c": "x", "d": 3, "e": True, "f": {"g": False}}}}


def test_sequential_writes_no_user_data_and_keeps_the_old_volume_throughput() -> None:
    spec = _gpu_node_class(image_pull="sequential")
    assert "userData" not in spec
    data = {d["deviceName"]: d["ebs"] for d in spec["blockDeviceMappings"]}["/dev/xvdb"]
    assert (data["iops"], data["throughput"]) == (DATA_VOLUME_IOPS, DATA_VOLUME_THROUGHPUT_MIBS)


def test_parallel_pulls_get_gp3s_most_throughput_within_its_limits() -> None:
    data = {d["deviceName"]: d["ebs"] for d in _gpu_node_class()["blockDeviceMappings"]}["/dev/xvdb"]
    assert data["throughput"] == PARALLEL_PULL_THROUGHPUT_MIBS == GP3_THROUGHPUT[1]
    assert GP3_THROUGHPUT[0] <= DATA_VOLUME_THROUGHPUT_MIBS <= GP3_THROUGHPUT[1]
    assert GP3_IOPS[0] <= data["iops"] <= GP3_IOPS[1]


def test_the_cpu_pool_gets_no_user_data() -> None:
    cpu = one(render_karpenter(workshop_config()), "EC2NodeClass", "x86-cpu-karpenter")["spec"]
    assert "userData" not in cpu


def test_an_ami_without_the_settings_pulls_sequentially_by_default() -> None:
    spec = _gpu_node_class(ami_alias="al2023@v20250715")
    assert "userData" not in spec
    assert {d["deviceName"]: d["ebs"] for d in spec["blockDeviceMappings"]}["/dev/xvda"]["throughput"] == 500


@pytest.mark.parametrize(
    ("alias", "mode"),
    [
        ("al2023@v20250715", "soci-parallel"),
        ("bottlerocket@v1.43.0", "soci-parallel"),
        ("bottlerocket@v1.46.0", "containerd-chunked"),
    ],
)
def test_a_chosen_mode_the_ami_lacks_is_refused(alias: str, mode: str) -> None:
    with pytest.raises(ValidationError, match=r"image_pull: .*set pools\.gpu\.image_pull: sequential"):
        PlatformConfig.model_validate({"pools": {"gpu": {"ami_alias": alias, "image_pull": mode}}})


def test_the_first_releases_with_the_settings_are_accepted() -> None:
    for alias, mode in (("bottlerocket@v1.44.0", "soci-parallel"), ("bottlerocket@v1.47.0", "containerd-chunked")):
        pool = PlatformConfig.model_validate({"pools": {"gpu": {"ami_alias": alias, "image_pull": mode}}}).pools.gpu
        assert pool.image_pull == mode
