"""A kubeconfig for an EKS cluster whose credential comes from inferctl itself (no AWS CLI needed).

kubectl, lightkube and Pulumi's Kubernetes provider run the ``exec`` command before each session; it prints an
``ExecCredential`` holding a short-lived EKS token (see :mod:`inferctl.aws.token`). Nothing secret is stored.
"""

from __future__ import annotations

import json
import sys
from typing import Any

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def token_command(cluster_name: str, region: str) -> tuple[str, list[str]]:
    """The command (and its arguments) that prints the cluster's ExecCredential.

    The running interpreter, not a PATH lookup: the kubeconfig then works from any shell, venv active or not.
    ``-P`` keeps the directory kubectl happens to run in off ``sys.path``, so an ``inferctl.py`` lying there
    cannot stand in for inferctl and receive the AWS credentials.
    """
    return sys.executable, ["-P", "-m", "inferctl", "aws", "token", "--cluster", cluster_name, "--region", region]


def context_name(cluster_name: str, region: str) -> str:
    return f"inferctl-{cluster_name}-{region}"


def exec_kubeconfig(cluster_name: str, region: str, endpoint: str, ca_data: str) -> dict[str, Any]:
    """The kubeconfig as a dict (JSON is valid YAML: ``json.dumps`` it to a file or a provider)."""
    name = context_name(cluster_name, region)
    command, args = token_command(cluster_name, region)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": command,
                        "args": args,
                        "interactiveMode": "Never",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def local_kubeconfig(outputs: dict[str, Any], cluster_name: str, region: str) -> str | None:
    """The cluster's kubeconfig for this machine, from the stack outputs' endpoint and CA (None: not enough).

    The stack's own ``kubeconfig`` output embeds the Python of whichever machine last ran the program, so it is
    read only for the endpoint and CA (stacks from before the ``certificate_authority`` output), never used.
    """
    endpoint, ca_data = outputs.get("endpoint"), outputs.get("certificate_authority")
    if not (endpoint and ca_data) and outputs.get("kubeconfig"):
        try:
            stored = json.loads(str(outputs["kubeconfig"]))
            cluster = stored["clusters"][0]["cluster"]
            endpoint, ca_data = cluster["server"], cluster["certificate-authority-data"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    if not (endpoint and ca_data):
        return None
    return json.dumps(exec_kubeconfig(cluster_name, region, str(endpoint), str(ca_data)))
