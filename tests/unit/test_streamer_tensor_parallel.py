"""The Run:ai streamer's CPU buffers with tensor parallelism 1, 2, 4 and 8: what sizing puts in the pod's memory
against what the rendered loader arguments let every worker's streamer hold, under each streamer release's rules.

vLLM 0.32 runs one streamer per tensor-parallel worker and gives each the same ``memory_limit``
(model_executor/model_loader/runai_streamer_loader.py sets RUNAI_STREAMER_MEMORY_LIMIT in every worker). How much a
worker then holds, from run-ai/runai-model-streamer's source (``DISTRIBUTED_RULES`` below):

* 0.15.7 - 0.16.1 (GitHub tags 0.15.7 and 0.15.9, and the 0.16.1 wheel on PyPI,
  ``distributed_streamer/distributed_streamer.py`` ``_distributedStreamer.stream_files``): distributed, a worker
  reads its part with the limit as given (unlimited only when none is set);
* 0.17.0 and 0.17.1 (the wheels on PyPI, same file, ``rank_memory_limit``): distributed, the limit is a node total,
  divided by the workers on the node and floored at the largest tensor;
* every release, not distributed (tensor parallelism 1, or a fallback: ``set_is_distributed`` drops to it without
  NCCL or without free GPU memory for its staging buffers): each worker reads the whole checkpoint under the limit;
* every release refuses a limit below the largest tensor (``file_streamer/requests_iterator.py``: "Memory limit
  supplied ... cannot be smaller than").

A buffer never exceeds the bytes a worker reads (``min(limit, total)`` in requests_iterator.py), which only makes
these bounds looser. Nothing is faked: real profiles (published config.json files), real sizing, real rendering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from inferctl.catalog.prices import PriceBook
from inferctl.config.models import PlatformConfig
from inferctl.render import render_platform
from inferctl.sizing import memory, place_model
from inferctl.sizing.placement import Placement
from tests.support.render import one
from tests.support.sizing import LLAMA_3_8B_INSTRUCT, LLAMA_3_70B, fixture_profile

GIB = memory.GIB
_UNITS = {"Gi": GIB, "Mi": 2**20}

# (limit per worker, workers, largest tensor) -> bytes one worker's streamer may hold.
Rule = Callable[[int, int, int], int]
DISTRIBUTED_RULES: dict[str, Rule] = {
    "0.15.7-0.16.1": lambda limit, tp, largest: limit,
    "0.17.x": lambda limit, tp, largest: max(limit // tp, largest),
}
NOT_DISTRIBUTED: Rule = lambda limit, tp, largest: limit  # noqa: E731  every release, per process

CASES = [
    (LLAMA_3_8B_INSTRUCT, 1, "g5"),
    (LLAMA_3_8B_INSTRUCT, 2, "g5"),
    (LLAMA_3_8B_INSTRUCT, 4, "g5"),
    (LLAMA_3_8B_INSTRUCT, 8, "g5"),
    (LLAMA_3_70B, 4, "g6e"),
    (LLAMA_3_70B, 8, "g5"),
]


def _quantity(value: str) -> int:
    return int(value[:-2]) * _UNITS[value[-2:]]


def _served(fixture: str, tp: int, family: str, **cache: Any) -> tuple[Placement, dict[str, Any]]:
    config = PlatformConfig.model_validate(
        {
            "name": "tp",
            "target": "aws",
            "pools": {"gpu": {"instance_families": [family]}},
            "models": [
                {"name": "m", "source": "meta-llama/m", "revision": "abc", "engine": {"tensor_parallel_size": tp}}
            ],
            "cache": {"enabled": True, **cache},
        }
    )
    placement = place_model(config, config.models[0], profile=fixture_profile(fixture), prices=PriceBook.snapshot())
    container = one(render_platform(config, {"m": placement}), "Deployment", "m")["spec"]["template"]["spec"][
        "containers"
    ]
    return placement, container[0]


def _loader_config(container: dict[str, Any]) -> dict[str, Any]:
    args = container["args"]
    loaded: dict[str, Any] = json.loads(args[args.index("--model-loader-extra-config") + 1])
    return loaded


@pytest.mark.parametrize(("fixture", "tp", "family"), CASES)
def test_every_workers_streamer_fits_the_pods_memory(fixture: str, tp: int, family: str) -> None:
    profile = fixture_profile(fixture)
    placement, container = _served(fixture, tp, family)
    assert placement.tensor_parallel_size == tp
    loader = _loader_config(container)
    limit, largest = loader["memory_limit"], memory.largest_tensor_bytes(profile)
    assert limit >= largest  # a smaller limit is refused by the streamer itself
    assert loader.get("distributed", False) is (tp > 1)
    pod_memory = _quantity(container["resources"]["limits"]["memory"])
    assert _quantity(container["resources"]["requests"]["memory"]) == pod_memory
    # Everything but the streamer (processes, a tensor per worker, /dev/shm), then the streamers themselves under
    # every release's rule, distributed or fallen back: always inside the pod's memory.
    rest = memory.host_memory_bytes(profile, tp) + memory.shm_bytes(tp)
    rules = [*DISTRIBUTED_RULES.values(), NOT_DISTRIBUTED] if tp > 1 else [NOT_DISTRIBUTED]
    for rule in rules:
        assert rest + tp * rule(limit, tp, largest) <= pod_memory
    # What the issue saw: a quarter of the pod's memory per worker is the whole pod at TP 4, twice it at TP 8.
    assert tp * limit <= tp * placement.streamer_worker_bytes < pod_memory


@pytest.mark.parametrize("tp", [1, 2, 4, 8])
def test_the_buffer_is_a_share_of_the_pods_never_below_the_largest_tensor(tp: int) -> None:
    profile = fixture_profile(LLAMA_3_8B_INSTRUCT)
    largest = 128_256 * 4096 * 2  # Llama-3-8B's embedding matrix, bfloat16
    assert memory.largest_tensor_bytes(profile) == largest
    share = memory.streamer_worker_bytes(profile, tp)
    assert share == max(-(-memory.STREAMER_BUFFER_BYTES // tp), largest)
    assert memory.host_memory_bytes(profile, tp, streamer_worker_bytes=share) == (
        memory.host_memory_bytes(profile, tp) + tp * share
    )
    # A configured pod total is split the same way.
    assert memory.streamer_worker_bytes(profile, tp, 16 * GIB) == max(16 * GIB // tp, largest)


def test_a_configured_buffer_is_counted_in_the_pod() -> None:
    base, _ = _served(LLAMA_3_8B_INSTRUCT, 2, "g5")
    big, container = _served(LLAMA_3_8B_INSTRUCT, 2, "g5", streamer_memory_limit_gib=16)
    assert big.streamer_worker_bytes == 8 * GIB == _loader_config(container)["memory_limit"]
    assert _quantity(big.resources.memory) - _quantity(base.resources.memory) == 2 * (8 * GIB - GIB)


def test_without_the_cache_the_pod_holds_no_streamer() -> None:
    config = PlatformConfig.model_validate(
        {"name": "tp", "target": "aws", "models": [{"name": "m", "source": "meta-llama/m"}]}
    )
    profile = fixture_profile(LLAMA_3_8B_INSTRUCT)
    placement = place_model(config, config.models[0], profile=profile, prices=PriceBook.snapshot())
    expected = memory.ceil_gib(memory.host_memory_bytes(profile, 1) + memory.shm_bytes(1))
    assert placement.resources.memory == f"{expected}Gi"
