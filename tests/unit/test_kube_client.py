"""The Kubernetes client: kubeconfig and context selection, error translation, server-side apply, lists, deletes.

The API server is :class:`tests.support.kube.FakeCluster` at lightkube's HTTP transport (no API server runs
here); the unreachable-server test uses no fake at all: a real connection to a closed local port.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from inferctl.config.models import KubernetesSettings
from inferctl.errors import ConfigError, NotFoundError, OperationError, UserError
from inferctl.kube.client import FIELD_MANAGER, KubeClient
from tests.support.kube import FakeCluster, connect, kubeconfig, make_nodepool


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_api_server_is_one_line_user_error(tmp_path: Path) -> None:
    port = _closed_port()
    path = kubeconfig(tmp_path / "kubeconfig", server=f"https://127.0.0.1:{port}")
    with pytest.raises(UserError) as caught:
        KubeClient.connect(KubernetesSettings(kubeconfig=str(path)))
    assert caught.value.exit_code == 2
    assert f"cannot reach the Kubernetes API server https://127.0.0.1:{port} (context fake)" in caught.value.message
    assert "\n" not in caught.value.message


def test_wrong_context_lists_the_available_ones(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kubeconfig", contexts=["dev", "prod-eks"])
    with pytest.raises(NotFoundError) as caught:
        KubeClient.connect(KubernetesSettings(kubeconfig=str(path), context="staging"), transport=FakeCluster())
    assert caught.value.exit_code == 2
    assert "context 'staging' is not in kubeconfig" in caught.value.message
    assert "one of: dev, prod-eks" in caught.value.message


def test_missing_kubeconfig_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(NotFoundError, match=r"no kubeconfig at .*aws eks update-kubeconfig"):
        KubeClient.connect(KubernetesSettings(kubeconfig=str(tmp_path / "absent")))


def test_kubeconfig_env_paths_merge_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "a", contexts=["alpha"])
    second = kubeconfig(tmp_path / "b", contexts=["beta"])
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    client = KubeClient.connect(KubernetesSettings(context="beta"), transport=FakeCluster(namespaces=["inferctl"]))
    assert client.context == "beta"
    client = KubeClient.connect(KubernetesSettings(), transport=FakeCluster(namespaces=["inferctl"]))
    assert client.context == "alpha"  # the first file's current-context


def test_forbidden_namespace_is_one_line_user_error(tmp_path: Path) -> None:
    fake = FakeCluster()
    fake.forbidden_namespaces.add("team-a")
    with pytest.raises(UserError) as caught:
        connect(fake, tmp_path, namespace="team-a")
    assert caught.value.exit_code == 2
    assert 'cannot list resource "pods"' in caught.value.message
    assert "access to namespace team-a" in caught.value.message


def test_invalid_kubeconfig_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        KubeClient.connect(KubernetesSettings(kubeconfig=str(path)))


def test_apply_is_server_side_with_field_manager_and_idempotent(tmp_path: Path) -> None:
    fake = FakeCluster(namespaces=["inferctl"])
    client = connect(fake, tmp_path)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo", "labels": {"a": "b"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    first = client.apply(deployment)
    second = client.apply(deployment)
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == ["/apis/apps/v1/namespaces/inferctl/deployments/demo"] * 2
    assert patches[0].content_type == "application/apply-patch+yaml"
    assert patches[0].query == {"fieldManager": FIELD_MANAGER, "force": "true"}
    assert patches[0].body["metadata"]["namespace"] == "inferctl"
    assert first["metadata"]["generation"] == second["metadata"]["generation"] == 1
    changed = {**deployment, "spec": {**deployment["spec"], "replicas": 2}}
    assert client.apply(changed)["metadata"]["generation"] == 2


def test_get_and_delete_treat_404_as_gone(tmp_path: Path) -> None:
    fake = FakeCluster(namespaces=["inferctl"])
    client = connect(fake, tmp_path)
    assert client.get("v1", "Service", "nope") is None
    assert client.delete("v1", "Service", "nope") is False
    fake.put(make_nodepool("g5-gpu-karpenter"))
    assert client.delete("karpenter.sh/v1", "NodePool", "g5-gpu-karpenter") is True


def test_lists_restore_kind_and_tolerate_missing_crds(tmp_path: Path) -> None:
    fake = FakeCluster(namespaces=["inferctl"])
    fake.put(make_nodepool("g5-gpu-karpenter"))
    client = connect(fake, tmp_path)
    pools = client.list("karpenter.sh/v1", "NodePool")
    assert [(p["kind"], p["apiVersion"], p["metadata"]["name"]) for p in pools] == [
        ("NodePool", "karpenter.sh/v1", "g5-gpu-karpenter")
    ]
    fake.missing_groups.add("karpenter.sh")
    assert client.list("karpenter.sh/v1", "NodePool", missing_ok=True) == []
    with pytest.raises(OperationError, match="listing NodePool failed: 404 page not found"):
        client.list("karpenter.sh/v1", "NodePool")


def test_applying_a_kind_the_cluster_lacks_names_the_fix(tmp_path: Path) -> None:
    fake = FakeCluster(namespaces=["inferctl"])
    fake.missing_groups.add("monitoring.coreos.com")
    client = connect(fake, tmp_path)
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "m"}, "spec": {}}
    with pytest.raises(OperationError, match=r"does not serve PodMonitor .* install the Prometheus Operator"):
        client.apply(monitor)


def test_credentials_rejected_is_a_user_error(tmp_path: Path) -> None:
    class Unauthorized(FakeCluster):
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            import httpx2

            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized", "code": 401}
            return httpx2.Response(401, json=body, headers={"Content-Type": "application/json"})

    with pytest.raises(UserError, match=r"rejected the credentials of context fake \(401"):
        connect(Unauthorized(), tmp_path)


def test_logs_of_an_unstarted_container_are_empty(tmp_path: Path) -> None:
    from tests.support.kube import make_pod

    fake = FakeCluster(namespaces=["inferctl"])
    fake.put(make_pod("p", "inferctl", {"a": "b"}))
    client = connect(fake, tmp_path)
    assert client.tail("p") == []
    fake.logs[("inferctl", "p")] = [f"line {i}" for i in range(100)]
    assert client.tail("p", lines=3) == ["line 97", "line 98", "line 99"]


def test_port_forward_command_is_loopback_and_names_context() -> None:
    from inferctl.kube.portforward import port_forward_command

    settings = KubernetesSettings(namespace="inferctl", context="prod", kubeconfig="/k/config")
    assert port_forward_command(settings, "llama", local_port=8000) == [
        "kubectl", "port-forward", "--address", "127.0.0.1", "-n", "inferctl",
        "--context", "prod", "--kubeconfig", "/k/config", "svc/llama", "8000:80",
    ]  # fmt: skip


def test_port_forward_without_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferctl.errors import MissingDependencyError
    from inferctl.kube.portforward import port_forward

    monkeypatch.setenv("PATH", "")
    with (
        pytest.raises(MissingDependencyError, match="needs kubectl on PATH"),
        port_forward(KubernetesSettings(), "llama", local_port=_closed_port()),
    ):
        pass


@pytest.mark.skipif(__import__("shutil").which("kubectl") is None, reason="kubectl is not installed here")
def test_port_forward_failure_quotes_kubectl(tmp_path: Path) -> None:
    """The real kubectl against a closed local port: it exits, and the error quotes its last line."""
    from inferctl.kube.portforward import port_forward

    path = kubeconfig(tmp_path / "kubeconfig", server=f"https://127.0.0.1:{_closed_port()}")
    settings = KubernetesSettings(kubeconfig=str(path))
    with (
        pytest.raises(OperationError, match="kubectl port-forward to svc/llama failed: "),
        port_forward(settings, "llama", local_port=_closed_port(), ready_timeout_s=60),
    ):
        pass
