"""Every config that ``render`` or ``up`` refuses, ``plan`` refuses too, with the same line and exit 2.

The refusals live in the renderers (render/, and cache/location.py which they call); ``plan``, ``render``,
``up --target kubernetes`` and ``up --target aws`` reach them through one function, render.check_platform. The
table below has one row per ``raise`` of a config-level refusal there, and
:func:`test_the_table_covers_every_refusal_in_the_renderers` reads the source (ast) so that a refusal added later
without a row here fails this file. Sizing's own refusals (PlanError from sizing/) are shared already: plan,
render and up all size through sizing.plan_platform.

``up`` runs against tests.support.kube.FakeCluster (no API server runs here) and must refuse before any request
reaches it; ``up --target aws`` gets an AWS client factory that fails the test on any call (no AWS here either).
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferctl.cli.app import main
from inferctl.config import load_config
from inferctl.errors import UserError
from inferctl.home import Home
from inferctl.progress import NullReporter
from inferctl.targets.aws import AwsTarget
from tests.support.kube import FakeCluster, kubeconfig, serve
from tests.support.sizing import LLAMA_3_8B_INSTRUCT, FakeHub, fake_hub, fixture_dir

SRC = Path(__file__).resolve().parents[2] / "src" / "inferctl"
MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
SHA = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"
NS = "inferctl"
# Where config-level refusals live: every module rendering runs, and the cache location it derives.
REFUSAL_MODULES = sorted([*SRC.joinpath("render").glob("*.py"), SRC / "cache" / "location.py"])
REFUSALS = {"ConfigError", "PlanError", "UserError"}
# Raises that no config reaches through check_platform (internal guards): why each cannot happen.
NOT_CONFIG_REACHABLE = {
    # render_platform sizes nothing: every model has a placement, since plan_platform sized them all first.
    "render/platform.py:render_platform": "placements come from plan_platform, which sizes every model",
    # The mirror Job is rendered only for models that use the cache (render_model_cache checks uses_cache).
    "render/model_cache.py:render_mirror_job": "called only for models served from the cache",
    # The placement's GPUs come from sizing, which sets tensor parallelism from them (or from the engine's own).
    "render/workload.py:_check_placement": "sizing gives a placement at least tensor_parallel_size GPUs",
}


def model(**extra: Any) -> dict[str, Any]:
    return {"name": "llama", "source": MODEL, **extra}


# (id, target, config without target/models' defaults, site of the raise, a phrase of the refusal)
ROWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "demo-model-on-a-cluster",
        "kubernetes",
        {"models": [{"name": "demo", "source": "demo"}]},
        "render/workload.py:check_cluster_model",
        "the 'demo' model exists only on the local target",
    ),
    (
        "local-directory-on-a-cluster",
        "aws",
        {"models": [{"name": "llama", "source": str(fixture_dir(LLAMA_3_8B_INSTRUCT))}]},
        "render/workload.py:check_cluster_model",
        "is a directory on this machine, which cluster pods cannot read",
    ),
    (
        "pvc-cache-with-two-replicas",
        "kubernetes",
        {"models": [model(replicas=2)], "kubernetes": {"model_cache": "pvc"}},
        "render/workload.py:render_deployment",
        "a ReadWriteOnce volume one pod can mount",
    ),
    (
        "cache-without-a-pinned-revision",  # the new-user case
        "aws",
        {"models": [model()], "cache": {"enabled": True}},
        "cache/location.py:cache_location",
        "models[0].revision is unset but the model is served from the S3 cache",
    ),
    (
        "cache-with-a-revision-that-cannot-key-it",
        "aws",
        {"models": [model(revision="refs/pr/1")], "cache": {"enabled": True}},
        "cache/location.py:cache_location",
        "cannot key the cache",
    ),
    (
        "cache-without-a-bucket-on-kubernetes",
        "kubernetes",
        {"models": [model(revision=SHA)], "cache": {"enabled": True}},
        "cache/location.py:cache_bucket",
        "cache.enabled needs cache.bucket on the kubernetes target",
    ),
    (
        "cache-and-engine-args-that-fight-it",
        "aws",
        {
            "models": [model(revision=SHA, engine={"extra_args": ["--load-format=safetensors"]})],
            "cache": {"enabled": True},
        },
        "render/model_cache.py:check_cache_model",
        "sets --load-format, which the S3 model cache sets",
    ),
    (
        "tags-karpenter-sets-itself",
        "aws",
        {"models": [model()], "aws": {"tags": {"karpenter.sh/nodepool": "x"}}},
        "render/karpenter.py:_tags",
        "'karpenter.sh/nodepool' is set by EKS or Karpenter itself",
    ),
    (
        "autoscaling-without-a-prometheus",
        "kubernetes",
        {"models": [model(autoscaling={"min_replicas": 1, "max_replicas": 2})]},
        "render/autoscaling.py:check_prometheus_configured",
        "set observability.prometheus_url",
    ),
    (
        "a-model-named-like-the-gateway",
        "kubernetes",
        {"name": "genai", "models": [{"name": "genai-gateway", "source": MODEL}]},
        "render/gateway.py:check_gateway_name",
        "is the platform's gateway's; rename the model",
    ),
    (
        "pod-monitor-without-a-prometheus-namespace",
        "kubernetes",
        {"models": [model()], "observability": {"prometheus": True}},
        "render/observability.py:scraper_peer",
        "set observability.prometheus_namespace",
    ),
]


def _site(path: Path, function: str) -> str:
    return f"{path.relative_to(SRC).as_posix()}:{function}"


def refusal_sites() -> Counter[str]:
    """``module:function`` of each ``raise ConfigError/PlanError/UserError(...)`` in the renderers, counted."""
    found: Counter[str] = Counter()
    for path in REFUSAL_MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            for node in ast.walk(func):
                exc = node.exc if isinstance(node, ast.Raise) else None
                if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and exc.func.id in REFUSALS:
                    found[_site(path, func.name)] += 1
    return found


def test_the_table_covers_every_refusal_in_the_renderers() -> None:
    sites = refusal_sites()
    assert sites, "no refusal found: the scan itself is broken"
    covered = Counter(row[3] for row in ROWS) + Counter(NOT_CONFIG_REACHABLE.keys())
    assert covered == sites, "a refusal without a row here (or a row for one that is gone)"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeCluster]:
    cluster = serve(FakeCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    with fake_hub(FakeHub(offline=True), tmp_path / "hf-cache"):
        yield cluster


def write(tmp_path: Path, target: str, config: dict[str, Any]) -> Path:
    kube = tmp_path / "kubeconfig"
    kubeconfig(kube)
    data = {"name": "genai", "target": target, **config}
    data["kubernetes"] = {"kubeconfig": str(kube), "namespace": NS, **config.get("kubernetes", {})}
    path = tmp_path / "inferctl.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2, argv
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return " ".join(captured.err.split())


@pytest.mark.parametrize(("target", "config", "phrase"), [r[1:3] + r[4:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_plan_refuses_every_config_that_render_and_up_refuse(
    fake: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, config: dict[str, Any],
    phrase: str,
) -> None:  # fmt: skip
    path = str(write(tmp_path, target, config))
    rendered = refusal(capsys, "render", "-c", path)
    planned = refusal(capsys, "plan", "-c", path)
    assert phrase in rendered, rendered
    assert planned == rendered  # the same line, word for word
    assert refusal(capsys, "plan", "-c", path, "--output", "json") == rendered
    if target == "kubernetes":
        assert refusal(capsys, "up", "-c", path, "--yes") == rendered
        assert fake.requests == [], "up refused after it reached the cluster"
    else:
        cfg, _ = load_config(Path(path))

        def no_aws(service: str) -> Any:
            raise AssertionError(f"no AWS call expected before the refusal, got a {service} client")

        with pytest.raises(UserError) as caught:
            AwsTarget(cfg, Home(tmp_path / "home"), clients=no_aws).up(NullReporter())
        assert phrase in caught.value.message
