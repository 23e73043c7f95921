"""Which vLLM servers the local target runs for a config (sizing.local.local_servers), what a second ``up`` keeps,
stops and starts (the server fingerprint), and the config checks that come with several models behind one gateway.

Pure functions, except the last test, whose running servers are stand-ins at the process-runner seam
(tests/support/local.py): what ``up`` decides from their state files, not vLLM, is the point.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inferctl.catalog import load_profile
from inferctl.config import PlatformConfig, parse_config
from inferctl.errors import ConfigError, ConflictError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.sizing.local import local_memory_need, local_servers, servers_memory_refusal
from inferctl.sizing.memory import GIB
from inferctl.targets.local import LocalTarget, process
from inferctl.targets.local.gateway import Route
from inferctl.targets.local.server import fingerprint
from tests.support.bench import StubServer
from tests.support.local import running_gateway, server_standin, server_state, write_server


def _config(*models: dict[str, object], **local: object) -> PlatformConfig:
    return PlatformConfig.model_validate({"models": list(models), "local": local})


def test_one_server_per_replica_in_config_order() -> None:
    config = _config({"name": "a", "source": "demo", "replicas": 2}, {"name": "b", "source": "demo"})
    servers = local_servers(config, on_cpu=True)
    assert [(s.name, s.model.name, s.replica) for s in servers] == [("a-0", "a", 0), ("a-1", "a", 1), ("b-0", "b", 0)]


def test_a_model_that_follows_load_runs_its_minimum_locally() -> None:
    """Nothing scales (or wakes from zero) on one machine: autoscaling's minimum, at least one server."""
    scaled = {"name": "a", "source": "demo", "autoscaling": {"min_replicas": 0, "max_replicas": 3}}
    assert [s.name for s in local_servers(_config(scaled), on_cpu=True)] == ["a-0"]
    two = {"name": "a", "source": "demo", "autoscaling": {"min_replicas": 2, "max_replicas": 3}}
    assert [s.name for s in local_servers(_config(two), on_cpu=True)] == ["a-0", "a-1"]


def test_replicas_zero_skips_a_model_and_all_zero_is_refused() -> None:
    config = _config({"name": "a", "source": "demo", "replicas": 0}, {"name": "b", "source": "demo"})
    assert [s.name for s in local_servers(config, on_cpu=True)] == ["b-0"]
    with pytest.raises(ConfigError, match="every model has replicas: 0; give one model replicas: 1"):
        local_servers(_config({"name": "a", "source": "demo", "replicas": 0}), on_cpu=True)


def test_memory_split_per_server() -> None:
    """CPU: each server its own KV cache (local.kv_cache_gib, an integer for vLLM's int() parse) and the model's
    memory fraction, which vLLM's CPU backend ignores once the KV space is set. GPU: the one GPU's fraction split
    over every server, rounded down so the shares fit together."""
    config = _config({"name": "a", "source": "demo", "replicas": 2}, {"name": "b", "source": "demo"}, kv_cache_gib=2)
    cpu = local_servers(config, on_cpu=True)
    assert {(s.kv_cache_gib, s.gpu_memory_utilization) for s in cpu} == {(2, 0.9)}
    gpu = local_servers(config, on_cpu=False)
    assert {s.gpu_memory_utilization for s in gpu} == {0.3}
    assert sum(s.gpu_memory_utilization for s in gpu) <= 0.9


def test_kv_cache_must_be_whole_gib() -> None:
    """vLLM 0.32 reads VLLM_CPU_KVCACHE_SPACE with int() (vllm/platforms/cpu.py): 1.5 would stop every server."""
    with pytest.raises(ConfigError, match=r"local\.kv_cache_gib: kv_cache_gib 1\.5 must be a whole number of GiB"):
        parse_config("local:\n  kv_cache_gib: 1.5\n")
    assert parse_config("local:\n  kv_cache_gib: 2\n").local.kv_cache_gib == 2


def test_two_models_served_under_one_name_are_refused() -> None:
    """The gateway routes by the request's model name: one name for two deployments would mix their answers."""
    text = "models:\n  - name: a\n    source: demo\n  - name: b\n    source: demo\n    served_model_name: a\n"
    with pytest.raises(ConfigError, match="models 'a' and 'b' are both served as 'a'; give one of them another name"):
        parse_config(text)


def test_servers_that_do_not_fit_together_are_one_line() -> None:
    config = _config({"name": "a", "source": "demo", "replicas": 3})
    servers = local_servers(config, on_cpu=True)
    profile = load_profile("demo")
    needs = [(s, local_memory_need(profile, s.model.engine, kv_cache_bytes=GIB)) for s in servers]
    total = sum(n["total"] for _, n in needs)  # 3 x (a few MiB of weights + 1 GiB KV + 3 GiB runtime)
    assert servers_memory_refusal(needs, total) is None
    refusal = servers_memory_refusal(needs, total - 1)
    assert refusal is not None and "\n" not in refusal
    assert refusal.startswith("the 3 model servers to start (a x3) need about 12.0 GiB of RAM together")
    assert "lower models[].replicas or local.kv_cache_gib" in refusal


def test_the_fingerprint_follows_what_a_server_is_started_from() -> None:
    base = _config({"name": "a", "source": "demo"})
    (server,) = local_servers(base, on_cpu=True)
    same = fingerprint(base.local, server)
    more = local_servers(_config({"name": "a", "source": "demo", "replicas": 3}), on_cpu=True)[0]
    assert fingerprint(base.local, more) == same  # adding replicas leaves replica 0 alone
    changed = local_servers(_config({"name": "a", "source": "demo", "engine": {"max_model_len": 512}}), on_cpu=True)
    assert fingerprint(base.local, changed[0]) != same
    kv = _config({"name": "a", "source": "demo"}, kv_cache_gib=2)
    assert fingerprint(kv.local, local_servers(kv, on_cpu=True)[0]) != same


def test_a_second_up_keeps_what_is_unchanged_and_replaces_the_rest(isolated_home: Path) -> None:
    """Running: a-0 (as configured), a-1 (a replica the config no longer has), b-0 (started from other settings).
    The new config: a x1, b (changed), c (new). Kept: a-0; stopped: a-1 and b-0; started: b-0 and c-0."""
    config = _config({"name": "a", "source": "demo"}, {"name": "b", "source": "demo", "engine": {"max_num_seqs": 4}},
                     {"name": "c", "source": "demo"})  # fmt: skip
    target = LocalTarget(config, Home.from_env())
    a0 = local_servers(config, on_cpu=True)[0]
    with server_standin() as p1, server_standin() as p2, server_standin() as p3:
        a0_state = server_state(p1, 1, model="a", api_key_required=True)  # the default config checks a key
        write_server(isolated_home, replace(a0_state, fingerprint=fingerprint(config.local, a0)))
        write_server(isolated_home, server_state(p2, 2, model="a", replica=1))
        write_server(isolated_home, server_state(p3, 3, model="b"))
        changes = target._changes(local_servers(config, on_cpu=True))
    assert [s.name for s in changes.keep] == ["a-0"]
    assert sorted(state.name for _, state in changes.stop) == ["a-1", "b-0"]
    assert [s.name for s in changes.start] == ["b-0", "c-0"]


def test_a_server_started_with_another_key_check_is_replaced(isolated_home: Path) -> None:
    """The same model and settings, but the config now turns the key on: the keyless server is not kept."""
    config = _config({"name": "a", "source": "demo"})
    assert config.endpoint.api_key.enabled
    target = LocalTarget(config, Home.from_env())
    (a0,) = local_servers(config, on_cpu=True)
    with server_standin() as pid:
        keyless = replace(
            server_state(pid, 1, model="a", api_key_required=False), fingerprint=fingerprint(config.local, a0)
        )
        write_server(isolated_home, keyless)
        changes = target._changes([a0])
    assert changes.keep == [] and [state.name for _, state in changes.stop] == ["a-0"]
    assert [s.name for s in changes.start] == ["a-0"]


def test_a_second_up_that_turns_the_key_on_is_refused_while_the_gateway_runs(isolated_home: Path) -> None:
    """The real gateway runs without a key (in front of a stand-in server: vLLM is not needed to route); a config
    asking for one is refused before anything changes (the gateway keeps serving, its server is not touched), with
    the fix named."""
    config = _config({"name": "demo", "source": "demo"})
    with server_standin() as pid, StubServer(model="demo") as stub:
        state = write_server(isolated_home, server_state(pid, stub.port, model="demo"))
        with running_gateway(isolated_home, [Route(state.name, state.base_url, "demo")]) as gateway:
            with pytest.raises(ConflictError) as refused:
                LocalTarget(config, Home.from_env()).up(NullReporter())
            assert refused.value.message == (
                "platform 'inferctl' runs on 127.0.0.1 without an API key, and the config asks to run on 127.0.0.1 "
                "with an API key: 'inferctl down' first, then 'inferctl up' to start it that way"
            )
            assert process.is_alive(gateway.pid) and process.is_alive(pid)
