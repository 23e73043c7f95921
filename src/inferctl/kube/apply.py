"""Applying the rendered platform: every object in kind order (:mod:`inferctl.render.order`), by server-side apply.

Before the first write, the cluster must serve every custom kind among the objects (Karpenter's NodePool and
EC2NodeClass, the Prometheus Operator's PodMonitor): a missing CRD is a usage error that names the fix, raised
while nothing has changed yet.

Namespaces: inferctl creates the platform's namespace when it does not exist and marks it
``inferctl.io/created-by: <platform>``; only such a namespace is relabelled on later applies and deleted by
``down``. A namespace that existed before (``default``, a team's namespace) is used as it is.

Autoscaled Deployments: the rendered Deployment has no ``spec.replicas`` (KEDA's HPA owns the count). When the live
Deployment's ``replicas`` is still owned by inferctl's apply (the model ran fixed replicas before), applying without
the field would make the API server reset it to its default, 1, killing serving pods until the HPA writes it again.
Kubernetes' server-side apply documentation (kubernetes/website,
``content/en/docs/reference/using-api/server-side-apply.md``, section "Transferring ownership") says: "if the user
removes ``.spec.replicas`` before the HPA writes to the field and becomes its owner, then the API server would set
``.spec.replicas`` to 1 (the default replica count for Deployment)" (the rule since Kubernetes 1.20:
kubernetes/kubernetes ``CHANGELOG/CHANGELOG-1.20.md``, v1.20.0-alpha.1, #92661: "Removed fields which have no other
owners are deleted from the live object, or reset to their default value if they have one"). So inferctl does what
that section prescribes: it first applies only the Deployment's identity and the live ``replicas`` under a temporary
field manager (:data:`HANDOVER_MANAGER`), unforced ("If the apply results in a conflict with the HPA controller,
then do nothing"), then the Deployment without ``replicas``. The temporary manager keeps the count until the HPA
writes a new value, then "will no longer own any fields and will be automatically deleted".

Secret objects arrive with their values filled in by the caller (from the environment and the inferctl home);
the values go only into the API request body: never into files, logs, progress lines or error messages, which
name objects by kind and name only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

from inferctl.errors import UserError
from inferctl.kube.client import CUSTOM_RESOURCES, FIELD_MANAGER, FieldConflict, KubeClient, missing_kind_hint
from inferctl.kube.objects import (
    PROTECTED_NAMESPACES,
    Object,
    created_by,
    describe,
    labels_of,
    name_of,
    namespace_of,
)
from inferctl.kube_names import CREATED_BY, LABEL_PLATFORM
from inferctl.progress import Reporter
from inferctl.render.order import sort_for_apply

HANDOVER_MANAGER = "inferctl-handover-to-hpa"
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


def applies_replicas(live: Object, manager: str = FIELD_MANAGER) -> bool:
    """Whether ``manager``'s server-side apply owns the live object's ``spec.replicas`` (``metadata.managedFields``,
    FieldsV1 format)."""
    return any(
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
        for entry in live.get("metadata", {}).get("managedFields") or []
    )


def hand_replicas_to_autoscaler(client: KubeClient, deployment: Object, reporter: Reporter) -> None:
    """Before applying a Deployment without ``spec.replicas``: when inferctl's apply still owns the live count,
    let :data:`HANDOVER_MANAGER` own it too, so dropping it from inferctl's apply keeps it (see the module
    docstring). A conflict means the HPA owns the count already: nothing to do."""
    name, namespace = name_of(deployment), namespace_of(deployment)
    live = client.get("apps/v1", "Deployment", name, namespace)
    if live is None or not applies_replicas(live):
        return
    replicas = live["spec"]["replicas"]
    reporter.info(f"Deployment {name}: handing its replica count ({replicas}) to the autoscaler")
    replicas_only = {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
        "spec": {"replicas": replicas},
    }
    with suppress(FieldConflict):  # the HPA wrote the count since it was read: it owns it already
        client.apply(replicas_only, field_manager=HANDOVER_MANAGER, force=False)


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
        if obj["kind"] == "Deployment" and "replicas" not in obj.get("spec", {}):
            hand_replicas_to_autoscaler(client, obj, reporter)
        applied.append(client.apply(obj))
    return applied


__all__ = [
    "HANDOVER_MANAGER",
    "applies_replicas",
    "apply_objects",
    "check_kinds_served",
    "claim_namespace",
    "hand_replicas_to_autoscaler",
]
