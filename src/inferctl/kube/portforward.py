"""A local port to a model's Service through ``kubectl port-forward`` (for a ClusterIP Service or an internal load
balancer). lightkube has no port-forward, and kubectl's is the one users already trust and can reproduce.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from inferctl.config.models import KubernetesSettings
from inferctl.errors import MissingDependencyError, OperationError


def port_forward_command(
    settings: KubernetesSettings, service: str, *, local_port: int, remote_port: int = 80, kubectl: str = "kubectl"
) -> list[str]:
    """The kubectl command line; bound to loopback only."""
    command = [kubectl, "port-forward", "--address", "127.0.0.1", "-n", settings.namespace]
    if settings.context:
        command += ["--context", settings.context]
    if settings.kubeconfig:
        command += ["--kubeconfig", settings.kubeconfig]
    return [*command, f"svc/{service}", f"{local_port}:{remote_port}"]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def port_forward(
    settings: KubernetesSettings,
    service: str,
    *,
    local_port: int,
    remote_port: int = 80,
    ready_timeout_s: float = 20.0,
) -> Iterator[str]:
    """Run kubectl port-forward for the block; yields the local base URL (``http://127.0.0.1:PORT/v1``)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise MissingDependencyError(
            "--port-forward needs kubectl on PATH; install it (https://kubernetes.io/docs/tasks/tools/) "
            "or reach the model through its load balancer"
        )
    command = port_forward_command(settings, service, local_port=local_port, remote_port=remote_port, kubectl=kubectl)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while not _listening(local_port):
            if process.poll() is not None:
                reason = (process.stderr.read() if process.stderr else "").strip().splitlines()
                raise OperationError(
                    f"kubectl port-forward to svc/{service} failed: {reason[-1] if reason else 'it exited'}; "
                    "check 'inferctl status' and that the local port is free"
                )
            if time.monotonic() > deadline:
                raise OperationError(
                    f"kubectl port-forward to svc/{service} did not open port {local_port} within "
                    f"{ready_timeout_s:g}s; check 'inferctl status'"
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{local_port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


__all__ = ["port_forward", "port_forward_command"]
