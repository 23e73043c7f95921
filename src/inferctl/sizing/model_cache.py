"""What serving a model from the S3 cache asks of a plan, checked before anything is created: weights the cache can
serve, and room for the mirror Job's download.

* Weights: the hub's listing of the repository (when the hub answered) goes through the mirror's own choice
  (:func:`inferctl.cache.mirror.choose_weights`): a repository with PyTorch ``.bin`` weights only is refused here,
  with the fix, instead of by the mirror Job on the cluster; of two layouts, the note says which one is mirrored.
* Disk: the Job downloads the checkpoint before uploading it (:func:`inferctl.sizing.memory.mirror_scratch_bytes`).
  With a volume of its own (:func:`inferctl.cache.location.mirror_has_own_volume`) that is the volume's size and
  nothing to check. Without one it lands on a CPU node's data volume, which also holds the unpacked vLLM image
  the Job runs in (:data:`inferctl.sizing.memory.IMAGE_BYTES`): the kubelet schedules by the pod's request but
  evicts on what the disk holds, so a scratch that fits the request and not beside the image is evicted
  mid-download. Where that volume is known (Karpenter's CPU pool, ``pools.cpu.data_volume_gib``), a model that
  cannot fit is refused with the numbers; elsewhere the plan says what the Job needs.
"""

from __future__ import annotations

from inferctl.cache.location import mirror_has_own_volume, uses_cache
from inferctl.cache.mirror import UnservableSnapshot, choose_weights
from inferctl.catalog.profile import ModelProfile
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import ConfigError
from inferctl.sizing import memory
from inferctl.sizing.fit import allocatable_disk_bytes
from inferctl.sizing.instance_choice import data_volume_for


def check_cached_model(config: PlatformConfig, model: ModelDeployment, profile: ModelProfile, index: int) -> list[str]:
    """Notes for the plan about a model served from the cache; ConfigError when the cache cannot serve it."""
    if not uses_cache(config, model):
        return []
    where = f"models[{index}] ({model.name})"
    notes: list[str] = []
    if profile.repo_files is not None:
        try:
            choice = choose_weights(profile.repo_files, lambda _name: None, what=f"{model.source}@{model.revision}")
        except UnservableSnapshot as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if choice.left_out:
            notes.append(f"{model.name}: the S3 cache mirrors {choice.note}; left out: {', '.join(choice.left_out)}")
    problem, note = mirror_disk(config, profile)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    if note:
        notes.append(f"{model.name}: {note}")
    return notes


def mirror_disk(config: PlatformConfig, profile: ModelProfile) -> tuple[str | None, str | None]:
    """(why the mirror Job's download cannot fit, a note on what it needs): at most one of them is set."""
    checkpoint = memory.checkpoint_bytes(profile)
    scratch = memory.ceil_gib(memory.mirror_scratch_bytes(checkpoint))
    if mirror_has_own_volume(config):
        return None, None
    image = memory.ceil_gib(memory.IMAGE_BYTES)
    if not config.kubernetes.karpenter:
        return None, (
            f"the mirror Job downloads into its node's disk: it needs {scratch} GiB free beside the {image} GiB vLLM "
            "image; set kubernetes.storage_class to give it a volume of its own"
        )
    volume = config.pools.cpu.data_volume_gib
    allowed = allocatable_disk_bytes(volume)
    if (scratch + image) * memory.GIB <= allowed:
        return None, None
    return (
        f"its mirror Job needs {scratch} GiB of scratch for the {memory.gib(checkpoint):.1f} GiB checkpoint plus the "
        f"{image} GiB vLLM image on a CPU node, whose {volume} GiB data volume leaves pods "
        f"{memory.gib(allowed):.0f} GiB; set kubernetes.storage_class (the Job then gets a volume of its own) or "
        f"raise pools.cpu.data_volume_gib to {data_volume_for(scratch + image)}"
    ), None
