"""Turning autoscaling on for a model that ran fixed replicas keeps its running count: inferctl hands
``spec.replicas`` over to the HPA as Kubernetes documents, instead of letting the API server reset it to 1.

Upstream contract (kubernetes/website, ``content/en/docs/reference/using-api/server-side-apply.md``, section
"Transferring ownership"): "if the user removes ``.spec.replicas`` before the HPA writes to the field and becomes its
owner, then the API server would set ``.spec.replicas`` to 1 (the default replica count for Deployment)". The fix it
gives: apply a manifest with only the Deployment's identity and ``replicas`` under a temporary field manager
(``handover-to-hpa``); "If the apply results in a conflict with the HPA controller, then do nothing"; then apply the
manifest without ``replicas``; "whenever the HPA controller sets the ``replicas`` field to a new value, the temporary
field manager will no longer own any fields and will be automatically deleted".

Everything is real (sizing, renderers, lightkube, the target's ``up``) except the API server:
:class:`tests.support.kube.FakeCluster`, which models server-side apply's ownership of top-level spec fields.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from inferctl.config.models import PlatformConfig
from inferctl.home import Home
from inferctl.targets.kubernetes import KubernetesTarget
from tests.support.kube import (
    FakeCluster,
    RecordingReporter,
    connect,
    kubeconfig,
    make_pod,
    serve,
    set_rollout,
    stepping_poller,
)

NS = "inferctl"
HPA = "kube-controller-manager"  # the HPA controller's field manager (an Update)
HANDOVER = "inferctl-handover-to-hpa"
LABELS = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}


class ReplicaWatch(FakeCluster):
    """The fake, also noting the Deployment's ``spec.replicas`` after every request (None: no Deployment), and
    running :attr:`before_next_request` (a controller acting between two requests) before the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.replicas_seen: list[int | None] = []
        self.before_next_request: Callable[[FakeCluster], None] | None = None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.before_next_request is not None:
            act, self.before_next_request = self.before_next_request, None
            act(self)
        response = super().handle_request(request)
        deployment = self.get("Deployment", "llama", NS)
        self.replicas_seen.append(deployment["spec"].get("replicas") if deployment else None)
        return response


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ReplicaWatch:
    return serve(ReplicaWatch(), monkeypatch, tmp_path)


def config(tmp_path: Path, **scaling: Any) -> PlatformConfig:
    """The model with ``replicas: N`` or ``autoscaling: {...}``."""
    path = tmp_path / "kubeconfig"
    if not path.exists():
        kubeconfig(path)
    model = {"name": "llama", "source": "meta-llama/Meta-Llama-3-8B-Instruct", **scaling}
    return PlatformConfig.model_validate(
        {
            "name": "genai",
            "target": "kubernetes",
            "models": [model],
            "kubernetes": {"kubeconfig": str(path)},
            "observability": {"prometheus_url": "http://prometheus-server.monitoring.svc"},
        }
    )


def up(fake: FakeCluster, cfg: PlatformConfig, *, frames: list[Callable[[FakeCluster], None]]) -> RecordingReporter:
    fake.frames = frames
    reporter = RecordingReporter()
    KubernetesTarget(cfg, Home.from_env(), poller=stepping_poller()).up(reporter)
    return reporter


def running(replicas: int) -> Callable[[FakeCluster], None]:
    """A rollout poll: ``replicas`` pods ready and the Deployment available with that many."""

    def frame(fake: FakeCluster) -> None:
        for i in range(replicas):
            fake.put(
                make_pod(f"llama-{i}", NS, LABELS, node="n1", phase="Running", ready=True, container={"state": {}})
            )
        set_rollout(fake, "llama", NS, ready=replicas, replicas=replicas)

    return frame


def unchanged(fake: FakeCluster) -> None:
    """The read of the live Deployment before the handover (frames count every read of an existing Deployment)."""


def replicas_owners(live: dict[str, Any]) -> list[str]:
    """The field managers owning the live Deployment's ``spec.replicas``, from its ``metadata.managedFields``."""
    return [
        entry["manager"]
        for entry in live["metadata"].get("managedFields") or []
        if "f:replicas" in entry["fieldsV1"].get("f:spec", {})
    ]


def deployment_patches(fake: FakeCluster) -> list[dict[str, str]]:
    """The applies of the model's Deployment (the gateway's has a fixed count of its own and no handover)."""
    return [r.query for r in fake.requests if r.method == "PATCH" and r.path.endswith("/deployments/llama")]


def with_fixed_replicas(fake: ReplicaWatch, tmp_path: Path, replicas: int = 3) -> None:
    """A model that ran ``replicas`` fixed replicas: inferctl's apply owns ``spec.replicas``."""
    up(fake, config(tmp_path, replicas=replicas), frames=[running(replicas)])
    live = fake.get("Deployment", "llama", NS)
    assert live is not None and live["spec"]["replicas"] == replicas and replicas_owners(live) == ["inferctl"]
    fake.requests.clear()
    fake.replicas_seen.clear()


def test_turning_autoscaling_on_keeps_the_running_count_through_the_apply(fake: ReplicaWatch, tmp_path: Path) -> None:
    with_fixed_replicas(fake, tmp_path)
    reporter = up(fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[unchanged, running(3)])

    assert set(fake.replicas_seen) == {3}  # never 1, not for one request
    patches = deployment_patches(fake)
    assert [p["fieldManager"] for p in patches] == [HANDOVER, "inferctl"]
    assert "force" not in patches[0] and patches[1]["force"] == "true"
    handover = next(r.body for r in fake.requests if r.query.get("fieldManager") == HANDOVER)
    assert handover == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llama", "namespace": NS},
        "spec": {"replicas": 3},
    }
    assert "Deployment llama: handing its replica count (3) to the autoscaler" in reporter.infos

    live = fake.get("Deployment", "llama", NS)
    assert live is not None and replicas_owners(live) == [HANDOVER]
    # The HPA's first write takes the field: the temporary manager owns nothing and is gone.
    fake.update_spec("Deployment", "llama", NS, HPA, replicas=2)
    assert [entry["manager"] for entry in live["metadata"]["managedFields"]] == ["inferctl", HPA]


def test_no_handover_once_the_hpa_owns_the_count(fake: ReplicaWatch, tmp_path: Path) -> None:
    with_fixed_replicas(fake, tmp_path)
    up(fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[unchanged, running(3)])
    fake.update_spec("Deployment", "llama", NS, HPA, replicas=4)
    fake.requests.clear()
    fake.replicas_seen.clear()

    reporter = up(fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[unchanged, running(4)])

    assert [p["fieldManager"] for p in deployment_patches(fake)] == ["inferctl"]
    assert set(fake.replicas_seen) == {4}
    assert not any("handing" in line for line in reporter.infos)


def test_a_conflict_on_the_handover_means_the_hpa_won_the_race_and_up_goes_on(
    fake: ReplicaWatch, tmp_path: Path
) -> None:
    """The HPA writes a new count between inferctl's read and its handover apply: that apply conflicts (409),
    inferctl lets it be, and the count stays the HPA's."""
    with_fixed_replicas(fake, tmp_path)

    def hpa_scales_right_after_the_read(cluster: FakeCluster) -> None:
        fake.before_next_request = lambda c: c.update_spec("Deployment", "llama", NS, HPA, replicas=2)

    reporter = up(
        fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[hpa_scales_right_after_the_read, running(2)]
    )

    patches = [r for r in fake.requests if r.method == "PATCH" and r.path.endswith("/deployments/llama")]
    assert [(p.query["fieldManager"], p.status) for p in patches] == [(HANDOVER, 409), ("inferctl", 200)]
    assert "Deployment llama: handing its replica count (3) to the autoscaler" in reporter.infos
    live = fake.get("Deployment", "llama", NS)
    assert live is not None and live["spec"]["replicas"] == 2
    assert [entry["manager"] for entry in live["metadata"]["managedFields"]] == ["inferctl", HPA]


def test_a_new_autoscaled_deployment_needs_no_handover(fake: ReplicaWatch, tmp_path: Path) -> None:
    reporter = up(fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[running(1)])

    assert [p["fieldManager"] for p in deployment_patches(fake)] == ["inferctl"]
    assert not any("handing" in line for line in reporter.infos)


def test_turning_autoscaling_off_takes_the_count_back(fake: ReplicaWatch, tmp_path: Path) -> None:
    with_fixed_replicas(fake, tmp_path)
    up(fake, config(tmp_path, autoscaling={"max_replicas": 4}), frames=[unchanged, running(3)])
    fake.update_spec("Deployment", "llama", NS, HPA, replicas=4)

    up(fake, config(tmp_path, replicas=2), frames=[running(2)])

    live = fake.get("Deployment", "llama", NS)
    assert live is not None and live["spec"]["replicas"] == 2 and replicas_owners(live) == ["inferctl"]


def test_the_fake_resets_a_dropped_count_that_nobody_else_owns(fake: ReplicaWatch, tmp_path: Path) -> None:
    """What the handover prevents, on the fake itself: an apply that stops sending ``replicas`` it alone owned
    leaves the Deployment at the default, 1 (the documented API server behaviour)."""
    with_fixed_replicas(fake, tmp_path)
    live = fake.get("Deployment", "llama", NS)
    assert live is not None
    without = {k: v for k, v in live["spec"].items() if k != "replicas"}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llama"}, "spec": without}
    with connect(fake, tmp_path) as client:
        assert client.apply(body)["spec"]["replicas"] == 1
