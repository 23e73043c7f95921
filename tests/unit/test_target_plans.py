"""The local target's ``plan()`` is typed (inferctl.targets.plans.LocalPlan) and its JSON keeps the keys, order
and values of the dict it was before. The kubernetes and aws plans are pinned in test_kube_target.py and
test_aws_target.py, where their real targets run."""

from __future__ import annotations

from pathlib import Path

from inferctl.config.models import PlatformConfig
from inferctl.engine import VLLM_SERVER_MODULE
from inferctl.home import Home
from inferctl.targets.local.target import LocalTarget


def test_local_plan_keeps_its_keys_and_creates_nothing(isolated_home: Path) -> None:
    plan = LocalTarget(PlatformConfig(), Home.from_env()).plan()
    assert plan.command[:3] == ["python", "-m", VLLM_SERVER_MODULE]
    as_json = plan.to_dict()
    assert list(as_json) == ["target", "platform", "model", "source", "host", "port", "command", "api_key_required"]
    assert (as_json["target"], as_json["platform"], as_json["api_key_required"]) == (
        "local",
        "inferctl",
        plan.api_key_required,
    )
    assert as_json["port"] == (PlatformConfig().local.port or "(a free port)")
    assert as_json["command"] == plan.command
    assert not (isolated_home / "platforms").exists()
