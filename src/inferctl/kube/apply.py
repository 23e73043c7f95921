"""Applying the rendered platform: every object in kind order (:mod:`inferctl.render.order`), by server-side apply.

Secret objects arrive with their values filled in by the caller (from the environment and the inferctl home);
the values go only into the API request body: never into files, logs, progress lines or error messages, which
name objects by kind and name only.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferctl.errors import UserError
from inferctl.kube.client import KubeClient
from inferctl.kube.objects import Obj, describe
from inferctl.render.order import sort_for_apply
from inferctl.targets.base import Reporter

MANAGED_BY = {"app.kubernetes.io/managed-by": "inferctl"}


def namespace_object(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(MANAGED_BY)}}


def ensure_namespace(client: KubeClient, objects: Sequence[Obj], reporter: Reporter) -> None:
    """Create the target namespace unless it exists or the rendered objects create it."""
    if any(o.get("kind") == "Namespace" and o["metadata"]["name"] == client.namespace for o in objects):
        return
    try:
        if client.get("v1", "Namespace", client.namespace) is not None:
            return
    except UserError:
        return  # may not read namespaces (a namespace-scoped user): assume it exists; apply will say if not
    reporter.phase("applying", f"Namespace {client.namespace}")
    client.apply(namespace_object(client.namespace))


def apply_objects(client: KubeClient, objects: Sequence[Obj], reporter: Reporter) -> list[Obj]:
    """Server-side apply ``objects`` in kind order; returns what the API server stored, in that order."""
    ensure_namespace(client, objects, reporter)
    applied = []
    for obj in sort_for_apply(objects):
        reporter.phase("applying", describe(obj))
        applied.append(client.apply(obj))
    return applied


__all__ = ["MANAGED_BY", "apply_objects", "ensure_namespace", "namespace_object"]
