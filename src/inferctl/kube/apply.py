"""Applying the rendered platform: every object in kind order (:mod:`inferctl.render.order`), by server-side apply.

Before the first write, the cluster must serve every custom kind among the objects (Karpenter's NodePool and
EC2NodeClass, the Prometheus Operator's PodMonitor): a missing CRD is a usage error that names the fix, raised
while nothing has changed yet.

Namespaces: inferctl creates the platform's namespace when it does not exist and marks it
``inferctl.io/created-by: <platform>``; only such a namespace is relabelled on later applies and deleted by
``down``. A namespace that existed before (``default``, a team's namespace) is used as it is.

Secret objects arrive with their values filled in by the caller (from the environment and the inferctl home);
the values go only into the API request body: never into files, logs, progress lines or error messages, which
name objects by kind and name only.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferctl.errors import UserError
from inferctl.kube.client import CUSTOM_RESOURCES, KubeClient, missing_kind_hint
from inferctl.kube.objects import PROTECTED_NAMESPACES, Object, created_by, describe, labels_of, name_of
from inferctl.kube_names import CREATED_BY, LABEL_PLATFORM
from inferctl.progress import Reporter
from inferctl.render.order import sort_for_apply

_CUSTOM = {(f"{group}/{version}", kind) for group, version, kind, _, _ in CUSTOM_RESOURCES}


def check_kinds_served(client: KubeClient, objects: Sequence[Object]) -> None:
    """Raise :class:`UserError` naming the fix when the cluster lacks the CRD of a custom kind in ``objects``."""
    wanted = sorted({(str(o["apiVersion"]), str(o["kind"])) for o in objects} & _CUSTOM)
    missing = [(api_version, kind) for api_version, kind in wanted if not client.serves(api_version, kind)]
    if missing:
        kinds = ", ".join(f"{kind} ({api_version})" for api_version, kind in missing)
        hints = "; ".join(dict.fromkeys(missing_kind_hint(api_version) for api_version, _ in missing))
        raise UserError(f"the cluster does not serve {kinds}; {hints}")


def _used_as_it_is(namespace: str) -> str:
    return f"Namespace {namespace} existed before inferctl: using it as it is (no Pod Security labels; down keeps it)"


def claim_namespace(client: KubeClient, namespace: Object, reporter: Reporter) -> Object | None:
    """The Namespace object to apply, or None to leave an existing namespace inferctl did not create alone.

    The ``created-by`` annotation goes on when inferctl creates the namespace and stays in every later apply
    (server-side apply would remove a field its manager stops sending).
    """
    name = name_of(namespace)
    owner = labels_of(namespace).get(LABEL_PLATFORM, "")
    try:
        live = client.get("v1", "Namespace", name)
    except UserError:  # a namespace-scoped user may not read namespaces: use it as it is
        reporter.info(f"Namespace {name}: cannot read it, using it as it is")
        return None
    if live is not None and created_by(live) != owner:
        reporter.info(_used_as_it_is(name))
        return None
    metadata = namespace["metadata"]
    annotations = {**(metadata.get("annotations") or {}), CREATED_BY: owner}
    return {**namespace, "metadata": {**metadata, "annotations": annotations}}


def apply_objects(client: KubeClient, objects: Sequence[Object], reporter: Reporter) -> list[Object]:
    """Server-side apply ``objects`` in kind order; returns what the API server stored, in that order."""
    check_kinds_served(client, objects)
    if client.namespace in PROTECTED_NAMESPACES:  # render leaves system namespaces out: say how they are used
        reporter.info(_used_as_it_is(client.namespace))
    applied = []
    for rendered in sort_for_apply(objects):
        obj = claim_namespace(client, rendered, reporter) if rendered.get("kind") == "Namespace" else rendered
        if obj is None:
            continue
        reporter.phase("applying", describe(obj))
        applied.append(client.apply(obj))
    return applied


__all__ = ["apply_objects", "check_kinds_served", "claim_namespace"]
