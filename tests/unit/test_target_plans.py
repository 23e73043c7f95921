"""The local target's ``plan()`` is typed (inferctl.targets.plans.LocalPlan) and its JSON keeps the keys, order
and values of the dict it was before. The kubernetes and aws plans are pinned in test_kube_target.py and
test_aws_target.py, where their real targets run."""

from __future__ import annotations

from pathlib import Path

from inferctl.config.models import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.home import Home
from inferctl.targets.local.target import LocalTarget


def test_local_plan_shows_the_gateway_and_each_server_and_creates_nothing(isolated_home: Path) -> None:
    """One vLLM server per replica behind one gateway, each with its exact command line (the ports the OS picks
    read "(a free port)"), and the gateway's (smg through its Python entry: no key in it)."""
    config = PlatformConfig.model_validate(
        {"models": [{"name": "demo", "source": "demo", "replicas": 2}, {"name": "other", "source": "demo"}]}
    )
    plan = LocalTarget(config, Home.from_env()).plan()
    as_json = plan.to_dict()
    assert list(as_json) == ["target", "platform", "host", "port", "api_key_required", "gateway_command", "servers"]
    assert (as_json["target"], as_json["platform"], as_json["port"]) == ("local", "inferctl", "(a free port)")
    assert [(s["server"], s["model"]) for s in plan.servers] == [("demo-0", "demo"), ("demo-1", "demo"),
                                                                 ("other-0", "other")]  # fmt: skip
    command = plan.servers[0]["command"]
    assert command[:3] == ["python", "-m", VLLM_SERVER_MODULE]
    assert command[command.index("--port") + 1] == "(a free port)"
    assert command[command.index("--served-model-name") + 1] == "demo"
    gateway = plan.gateway_command
    assert gateway[:2] == ["python", "-c"] and "launch_router" in gateway[2]
    assert gateway[gateway.index("--discovery-provider") + 1] == "file"
    assert "--api-key" not in gateway
    assert not (isolated_home / "platforms").exists()
