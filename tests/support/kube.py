"""A fake Kubernetes API server at the one seam inferctl's Kubernetes client has: lightkube's httpx transport.

Why a fake: no API server runs on this machine (no Docker, no kind). Everything above the transport is the real
code: lightkube builds and sends real requests (server-side apply PATCHes, lists with label and field selectors,
DELETEs, pod logs) and decodes the responses into its typed models, so objects served here must be as complete
as a real API server's (missing required fields fail decoding, as they would in production).

What :class:`FakeCluster` does, per request (``handle_request``):

* routes ``/api/v1/...`` and ``/apis/<group>/<version>/...`` paths for the kinds in :data:`KINDS`, namespaced
  and cluster-scoped, including all-namespace lists; unknown groups (``missing_groups``, e.g. no Karpenter CRDs)
  answer ``404 page not found`` in plain text as the real server does;
* GET / LIST (``labelSelector`` with ``=``, ``!=``, ``in``, existence; ``fieldSelector`` with ``=``/``!=`` on
  dotted paths), server-side apply (needs ``fieldManager``; creates, or updates and bumps ``generation`` when
  the spec changes; refuses a missing namespace with 404 like the real server; field ownership below), DELETE
  (an object with finalizers gets a ``deletionTimestamp`` and stays until they are removed);
* ``/version`` from :attr:`server_version` (404 when unset);
* ``pods/<name>/log`` (``tailLines``) from :attr:`logs`; the service proxy
  (``services/[<scheme>:]<name>:<port>/proxy/<path>``) from :attr:`proxy` (a fixed answer, or a function of the
  path and query);
* 403 for every request into a namespace in :attr:`forbidden_namespaces`;
* records every request in :attr:`requests` (method, path, query, content type, JSON body, status code,
  headers).

Field ownership (server-side apply), modelled at the granularity inferctl's applies need: which field managers own
each *top-level* ``spec`` field (``spec.replicas``, ``spec.template``...), kept in the object's real-shaped
``metadata.managedFields`` (``manager``, ``operation`` ``Apply``/``Update``, ``apiVersion``, ``time``,
``fieldsType: FieldsV1``, ``fieldsV1: {"f:spec": {"f:replicas": {}, ...}}``). An apply by manager M:

* sets the spec fields it sends, merged into the live spec (a body with some spec fields leaves the others);
* answers 409 Conflict, changing nothing, when without ``force`` it sends a value different from the live one for
  a field another manager owns (the same value: both own it); with ``force`` M takes the field from the others;
* makes M own exactly the fields it sent: a field M owned before and no longer sends is removed from the live
  spec when no other manager owns it, or reset to its default when it has one (:data:`SPEC_DEFAULTS`: a
  Deployment's ``replicas``, 1); a manager left owning nothing disappears from ``managedFields``.

:meth:`FakeCluster.update_spec` is a controller's Update (the HPA's ``kube-controller-manager`` writing
``spec.replicas``): it takes the fields whose value it changes from every other manager, without conflicts.
Limits: ownership is per top-level spec field, not per leaf (a real API server tracks leaves, list items by key);
``metadata`` and other top-level parts (``data``...) are replaced by each apply and their ownership is not tracked;
a manager keeps one entry (no separate Apply and Update entries of one name, no subresources); objects stored with
:meth:`FakeCluster.put` have no owners; defaults are applied only when a removed field is reset, not on create.

Controllers are simulated in ticks (one tick per request): a Deployment whose pods carry an
``app.kubernetes.io/component`` in :attr:`FakeCluster.ready_components` (the model gateway's: small CPU pods that
need no GPU node) is rolled out at the next tick, all its replicas available; pods of a deleted Deployment
terminate after ``pod_grace_ticks``; a LoadBalancer Service keeps its cleanup finalizer for ``lb_cleanup_ticks``
after its delete; a deleted PersistentVolumeClaim's volume turns Released and, with reclaim policy Delete, goes
``volume_deletion_ticks`` later (its provisioner deleting the disk), and a claim a pod owns (a generic ephemeral
volume) is deleted when the pod is gone; deleting a NodePool terminates its
NodeClaims and nodes after ``node_termination_ticks``, and a NodePool or EC2NodeClass keeps its termination
finalizer until none of its NodeClaims is left; a deleted namespace goes once it is empty. Rollout scenarios
are :attr:`frames`: functions applied one per GET of a Deployment that exists (one per poll of the rollout
watcher; a read before the first apply, which finds nothing, uses none), so a test scripts what the cluster
looks like at each poll.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2

from inferctl.poller import Poller

Object = dict[str, Any]
Cluster = TypeVar("Cluster", bound="FakeCluster")
BASE_TIME = datetime(2026, 7, 20, 10, 0, 0, tzinfo=UTC)

# (api group, version, plural) -> (kind, namespaced)
KINDS: dict[tuple[str, str, str], tuple[str, bool]] = {
    ("", "v1", "pods"): ("Pod", True),
    ("", "v1", "services"): ("Service", True),
    ("", "v1", "secrets"): ("Secret", True),
    ("", "v1", "configmaps"): ("ConfigMap", True),
    ("", "v1", "events"): ("Event", True),
    ("", "v1", "serviceaccounts"): ("ServiceAccount", True),
    ("", "v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True),
    ("", "v1", "persistentvolumes"): ("PersistentVolume", False),
    ("", "v1", "nodes"): ("Node", False),
    ("", "v1", "namespaces"): ("Namespace", False),
    ("apps", "v1", "deployments"): ("Deployment", True),
    ("rbac.authorization.k8s.io", "v1", "roles"): ("Role", True),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): ("RoleBinding", True),
    ("batch", "v1", "jobs"): ("Job", True),
    ("policy", "v1", "poddisruptionbudgets"): ("PodDisruptionBudget", True),
    ("networking.k8s.io", "v1", "networkpolicies"): ("NetworkPolicy", True),
    ("karpenter.sh", "v1", "nodepools"): ("NodePool", False),
    ("karpenter.sh", "v1", "nodeclaims"): ("NodeClaim", False),
    ("karpenter.k8s.aws", "v1", "ec2nodeclasses"): ("EC2NodeClass", False),
    ("monitoring.coreos.com", "v1", "podmonitors"): ("PodMonitor", True),
    ("keda.sh", "v1alpha1", "scaledobjects"): ("ScaledObject", True),
    ("http.keda.sh", "v1beta1", "interceptorroutes"): ("InterceptorRoute", True),
    ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", True),
}
# Defaults of spec fields, set when an apply removes the field and no other manager owns it (real defaulting).
SPEC_DEFAULTS: dict[tuple[str, str], Any] = {("Deployment", "replicas"): 1}
LB_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
KARPENTER_FINALIZER = "karpenter.sh/termination"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


def _json(status: int, body: Any) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers={"Content-Type": "application/json"})


def _status(code: int, reason: str, message: str) -> httpx2.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    return _json(code, {**body, "reason": reason, "code": code})


def ts(seconds: float = 0) -> str:
    return (BASE_TIME + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dig(obj: Mapping[str, Any], dotted: str) -> Any:
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _matches_labels(labels: Mapping[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in _split_selector(selector))):
        if " in " in term:
            key, values = term.split(" in ", 1)
            if labels.get(key.strip()) not in {v.strip() for v in values.strip("() ").split(",")}:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_selector(selector: str) -> list[str]:
    """Split on commas outside parentheses (``a in (x,y),b=c``)."""
    out, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    out.append(current)
    return out


def _matches_fields(obj: Mapping[str, Any], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(_dig(obj, key) or "") == value:
                return False
        else:
            key, value = term.split("=", 1)
            if str(_dig(obj, key.rstrip("=")) or "") != value.lstrip("="):
                return False
    return True


def _spec_owners(obj: Mapping[str, Any]) -> dict[str, tuple[str, set[str]]]:
    """manager -> (operation, the top-level spec fields it owns), from ``metadata.managedFields``."""
    return {
        entry["manager"]: (entry["operation"], {f.removeprefix("f:") for f in entry["fieldsV1"].get("f:spec", {})})
        for entry in obj["metadata"].get("managedFields") or []
    }


def _set_spec_owners(obj: Object, owners: Mapping[str, tuple[str, set[str]]], writer: str, now: str) -> None:
    """Write ``owners`` as ``metadata.managedFields`` entries (``time``: now for ``writer``, unchanged for the
    others); a manager owning nothing is left out."""
    times = {entry["manager"]: entry.get("time") for entry in obj["metadata"].get("managedFields") or []}
    obj["metadata"]["managedFields"] = [
        {
            "manager": manager,
            "operation": operation,
            "apiVersion": obj["apiVersion"],
            "time": now if manager == writer else times.get(manager, now),
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {f"f:{f}": {} for f in sorted(fields)}},
        }
        for manager, (operation, fields) in owners.items()
        if fields
    ]


def _applied_spec(
    kind: str, existing: Object, sent: Object, manager: str, force: bool
) -> tuple[Object, dict[str, tuple[str, set[str]]], list[tuple[str, str]]]:
    """The spec and its owners after ``manager`` applies the spec fields ``sent`` (see the module docstring), and
    the (manager, field) conflicts that refuse the apply when it is not forced (then nothing changes)."""
    owners = _spec_owners(existing)
    live = existing.get("spec") or {}
    taken = sorted(
        (other, f)
        for other, (_, fields) in owners.items()
        for f in fields & set(sent)
        if other != manager and live.get(f) != sent[f]
    )
    if taken and not force:
        return live, owners, taken
    for other, f in taken:
        owners[other][1].discard(f)
    released = owners.get(manager, ("Apply", set()))[1] - set(sent)
    owners[manager] = ("Apply", set(sent))
    still_owned = {f for _, fields in owners.values() for f in fields}
    spec = {**live, **sent}
    for f in released - still_owned:
        del spec[f]
        if (kind, f) in SPEC_DEFAULTS:
            spec[f] = SPEC_DEFAULTS[(kind, f)]
    return spec, owners, []


class FakeCluster(httpx2.BaseTransport):
    """An in-memory API server; see the module docstring."""

    def __init__(self, *, namespaces: Iterable[str] = ("default", "kube-system")) -> None:
        self.store: dict[tuple[str, str, str, str], Object] = {}
        self.requests: list[Recorded] = []
        self.logs: dict[tuple[str, str], list[str]] = {}
        # (namespace, service) -> (status, JSON body), or a function of (path, query) that answers them
        self.proxy: dict[tuple[str, str], Any] = {}
        self.forbidden_namespaces: set[str] = set()
        self.missing_groups: set[str] = set()
        self.server_version: str | None = None  # "1.36": GET /version answers; None: 404
        self.frames: list[Callable[[FakeCluster], None]] = []
        self.ready_components: set[str] = {"gateway"}
        self.pod_grace_ticks = 2
        self.lb_cleanup_ticks = 3
        self.node_termination_ticks = 3
        self.volume_deletion_ticks = 3
        self.tick = 0
        self._deleted_at: dict[tuple[str, str, str, str], int] = {}
        self._uid = 0
        for ns in namespaces:
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}})

    # --- test-facing helpers --------------------------------------------------------------------------------

    def put(self, obj: Object) -> Object:
        """Store an object as a controller would (no apply semantics); fills uid and timestamps."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        self._uid += 1
        meta.setdefault("uid", f"00000000-0000-4000-8000-{self._uid:012d}")
        meta.setdefault("creationTimestamp", ts(self.tick))
        meta["resourceVersion"] = str(1000 + self._uid)
        self.store[self._key(obj)] = obj
        return obj

    def update_spec(self, kind: str, name: str, namespace: str, manager: str, **fields: Any) -> Object:
        """A controller's Update of spec fields (the HPA: ``kube-controller-manager`` writing ``replicas``): it
        owns the fields whose value it changes, taken from every other manager; no conflicts, as for any Update."""
        obj = self.get(kind, name, namespace)
        assert obj is not None, f"{kind} {name} does not exist"
        changed = {f for f, value in fields.items() if obj["spec"].get(f) != value}
        owners = {m: (op, owned - changed) for m, (op, owned) in _spec_owners(obj).items()}
        operation, owned = owners.get(manager, ("Update", set()))
        owners[manager] = (operation, owned | changed)
        obj["spec"].update(fields)
        _set_spec_owners(obj, owners, manager, self.now())
        if changed:
            obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        return obj

    def get(self, kind: str, name: str, namespace: str | None = None) -> Object | None:
        for (_, k, ns, n), obj in self.store.items():
            if k == kind and n == name and (namespace is None or ns == namespace):
                return obj
        return None

    def all(self, kind: str) -> list[Object]:
        return [obj for (_, k, _, _), obj in self.store.items() if k == kind]

    def remove(self, kind: str, name: str, namespace: str | None = None) -> None:
        for key in [
            k for k in self.store if k[1] == kind and k[3] == name and (namespace is None or k[2] == namespace)
        ]:
            del self.store[key]

    def applied(self) -> list[str]:
        """``Kind/name`` of every server-side apply, in request order."""
        return [f"{r.body['kind']}/{r.body['metadata']['name']}" for r in self.requests if r.method == "PATCH"]

    def deleted(self) -> list[str]:
        """``plural/name`` of every DELETE, in request order."""
        return ["/".join(r.path.rstrip("/").split("/")[-2:]) for r in self.requests if r.method == "DELETE"]

    def now(self) -> str:
        return ts(self.tick)

    # --- transport --------------------------------------------------------------------------------------------

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.tick += 1
        self._run_controllers()
        url = urlsplit(str(request.url))
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        content_type = request.headers.get("Content-Type", "")
        raw = request.read()
        body = json.loads(raw) if raw and ("json" in content_type or "apply-patch" in content_type) else None
        path = unquote(url.path)
        response = self._route(request.method, path, query, content_type, body)
        headers = dict(request.headers)
        self.requests.append(Recorded(request.method, path, query, content_type, body, response.status_code, headers))
        return response

    def _route(self, method: str, path: str, query: dict[str, str], ctype: str, body: Any) -> httpx2.Response:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"] and self.server_version:  # version.Info, as an EKS API server answers it
            major, minor = self.server_version.split(".")
            return _json(200, {"major": major, "minor": f"{minor}+", "gitVersion": f"v{self.server_version}.0-eks-1"})
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return httpx2.Response(404, text="404 page not found", headers={"Content-Type": "text/plain"})
        if group in self.missing_groups:
            return httpx2.Response(404, text="404 page not found", headers={"Content-Type": "text/plain"})
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if namespace in self.forbidden_namespaces:
            verb = {"GET": "list" if len(rest) == 1 else "get", "PATCH": "patch", "DELETE": "delete"}[method]
            return _status(
                403,
                "Forbidden",
                f'{rest[0]} is forbidden: User "dev@example.com" cannot {verb} resource "{rest[0]}" in API group '
                f'"{group}" in the namespace "{namespace}"',
            )
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), rest[2:]
        if (group, version, plural) not in KINDS:
            return _status(404, "NotFound", f"the server could not find the requested resource ({plural})")
        kind, _ = KINDS[(group, version, plural)]
        api_version = f"{group}/{version}" if group else version
        if sub == ["log"]:
            return self._log(namespace or "", name or "", query)
        if plural == "services" and sub[:1] == ["proxy"]:
            # [scheme:]name[:port], as the API server's service proxy takes it
            parts = (name or "").split(":")
            service = parts[1] if parts[0] in ("http", "https") and len(parts) > 1 else parts[0]
            return self._proxy(namespace or "", service, "/".join(sub[1:]), query)
        if method == "GET" and name is None:
            return self._list(api_version, kind, namespace, query)
        if method == "GET":
            return self._get(api_version, kind, plural, namespace, name or "")
        if method == "PATCH":
            return self._apply(api_version, kind, plural, namespace, name or "", query, ctype, body)
        if method == "DELETE":
            return self._delete(api_version, kind, plural, namespace, name or "")
        return _status(405, "MethodNotAllowed", f"{method} is not supported by the fake")

    def _key(self, obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
        meta = obj["metadata"]
        return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])

    def _get(self, api_version: str, kind: str, plural: str, namespace: str | None, name: str) -> httpx2.Response:
        key = (api_version, kind, namespace or "", name)
        if kind == "Deployment" and self.frames and key in self.store:
            self.frames.pop(0)(self)
        obj = self.store.get(key)
        if obj is None:
            return _status(404, "NotFound", f'{plural} "{name}" not found')
        return _json(200, obj)

    def _list(self, api_version: str, kind: str, namespace: str | None, query: dict[str, str]) -> httpx2.Response:
        items = [
            obj
            for (av, k, ns, _), obj in sorted(self.store.items())
            if av == api_version
            and k == kind
            and (namespace is None or ns == namespace)
            and _matches_labels(obj["metadata"].get("labels") or {}, query.get("labelSelector", ""))
            and _matches_fields(obj, query.get("fieldSelector", ""))
        ]
        meta = {"resourceVersion": str(2000 + self.tick)}
        return _json(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": items})

    def _apply(
        self,
        api_version: str,
        kind: str,
        plural: str,
        namespace: str | None,
        name: str,
        query: dict[str, str],
        ctype: str,
        body: Any,
    ) -> httpx2.Response:
        if "apply-patch" not in ctype or not query.get("fieldManager"):
            return _status(400, "BadRequest", "only server-side apply with a fieldManager is supported here")
        if body.get("kind") != kind or body["metadata"].get("name") != name:
            return _status(400, "BadRequest", "the body's kind and name must match the URL")
        if namespace is not None and self.get("Namespace", namespace) is None:
            return _status(404, "NotFound", f'namespaces "{namespace}" not found')
        key = (api_version, kind, namespace or "", name)
        existing = self.store.get(key)
        if existing is not None and existing["metadata"].get("deletionTimestamp"):
            return _status(409, "Conflict", f'{plural} "{name}" is being deleted')
        applied = copy.deepcopy(body)
        if namespace is not None:
            applied["metadata"]["namespace"] = namespace
        manager, force = query["fieldManager"], query.get("force") == "true"
        if existing is None:
            _set_spec_owners(applied, {manager: ("Apply", set(applied.get("spec") or {}))}, manager, self.now())
            if "spec" in applied:
                applied["metadata"]["generation"] = 1
            if kind == "Service" and applied.get("spec", {}).get("type") == "LoadBalancer":
                applied["metadata"]["finalizers"] = [LB_FINALIZER]
            if kind == "NodePool":
                applied["metadata"]["finalizers"] = [KARPENTER_FINALIZER]
            if kind == "EC2NodeClass":
                applied["metadata"]["finalizers"] = ["karpenter.k8s.aws/termination"]
            return _json(201, self.put(applied))
        merged = copy.deepcopy(existing)
        for part, value in applied.items():
            if part == "metadata":
                for mk in ("labels", "annotations"):
                    if mk in value:
                        merged["metadata"][mk] = value[mk]
            elif part not in ("status", "spec"):
                merged[part] = value
        spec, owners, conflicts = _applied_spec(kind, existing, applied.get("spec") or {}, manager, force)
        if conflicts:
            listed = "; ".join(f'conflict with "{other}" using {api_version}: .spec.{f}' for other, f in conflicts)
            many = "s" if len(conflicts) > 1 else ""
            return _status(409, "Conflict", f"Apply failed with {len(conflicts)} conflict{many}: {listed}")
        if spec or "spec" in existing:
            merged["spec"] = spec
        _set_spec_owners(merged, owners, manager, self.now())
        if merged.get("spec") != existing.get("spec"):
            merged["metadata"]["generation"] = int(existing["metadata"].get("generation", 1)) + 1
        merged["metadata"]["resourceVersion"] = str(int(existing["metadata"]["resourceVersion"]) + 1)
        self.store[key] = merged
        return _json(200, merged)

    def _delete(self, api_version: str, kind: str, plural: str, namespace: str | None, name: str) -> httpx2.Response:
        key = (api_version, kind, namespace or "", name)
        obj = self.store.get(key)
        if obj is None:
            return _status(404, "NotFound", f'{plural} "{name}" not found')
        meta = obj["metadata"]
        meta.setdefault("deletionTimestamp", self.now())
        self._deleted_at.setdefault(key, self.tick)
        if kind == "Deployment":
            selector = obj.get("spec", {}).get("selector", {}).get("matchLabels") or {}
            for pod in self.all("Pod"):
                labels = pod["metadata"].get("labels") or {}
                if pod["metadata"].get("namespace") == namespace and all(
                    labels.get(k) == v for k, v in selector.items()
                ):
                    pod["metadata"].setdefault("deletionTimestamp", self.now())
                    self._deleted_at.setdefault(self._key(pod), self.tick)
        if kind == "PersistentVolumeClaim":
            # The PV controller releases the claim's volume; with reclaim policy Delete its provisioner (the CSI
            # driver) deletes the disk and then the PersistentVolume, volume_deletion_ticks later.
            for volume in self.all("PersistentVolume"):
                ref = volume["spec"].get("claimRef") or {}
                if (ref.get("namespace"), ref.get("name")) == (namespace, name):
                    volume.setdefault("status", {})["phase"] = "Released"
                    if volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
                        self._deleted_at.setdefault(self._key(volume), self.tick)
        if kind == "NodePool":
            for claim in self.all("NodeClaim"):
                if (claim["metadata"].get("labels") or {}).get("karpenter.sh/nodepool") == name:
                    claim["metadata"].setdefault("deletionTimestamp", self.now())
                    self._deleted_at.setdefault(self._key(claim), self.tick)
        if not meta.get("finalizers") and kind not in ("Pod", "Namespace", "NodeClaim"):
            del self.store[key]
            self._deleted_at.pop(key, None)
            return _json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})
        return _json(200, obj)

    def _run_controllers(self) -> None:
        """Advance the simulated controllers by one tick (rollouts that always succeed, finalizers, garbage
        collection, Karpenter)."""
        for key, obj in self.store.items():
            template = (obj.get("spec") or {}).get("template") or {}
            component = (template.get("metadata") or {}).get("labels", {}).get("app.kubernetes.io/component")
            if key[1] == "Deployment" and component in self.ready_components and key not in self._deleted_at:
                replicas = int(obj["spec"].get("replicas", 1))
                obj["status"] = {
                    "observedGeneration": obj["metadata"].get("generation", 1),
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                }
        for key, since in list(self._deleted_at.items()):
            obj = self.store.get(key)
            if obj is None:
                self._deleted_at.pop(key, None)
                continue
            kind, age = key[1], self.tick - since
            gone = False
            if kind == "Pod":
                gone = age >= self.pod_grace_ticks
            elif kind == "Service":
                if age >= self.lb_cleanup_ticks:
                    obj["metadata"]["finalizers"] = []
                gone = not obj["metadata"].get("finalizers")
            elif kind == "NodeClaim":
                if age >= self.node_termination_ticks:
                    node = (obj.get("status") or {}).get("nodeName")
                    if node:
                        self.remove("Node", node)
                    gone = True
            elif kind == "PersistentVolume":
                gone = age >= self.volume_deletion_ticks
            elif kind in ("NodePool", "EC2NodeClass"):
                # Karpenter drops its termination finalizer once no NodeClaim of the pool (or class) is left.
                label, ref = "karpenter.sh/nodepool", key[3]
                claims = [
                    c
                    for c in self.all("NodeClaim")
                    if (c["metadata"].get("labels") or {}).get(label) == ref
                    or (kind == "EC2NodeClass" and c["spec"].get("nodeClassRef", {}).get("name") == ref)
                ]
                gone = not claims
            elif kind == "Namespace":
                gone = not any(k[2] == key[3] for k in self.store if k[1] != "Namespace")
                if not gone:
                    for k, other in self.store.items():
                        if k[2] == key[3]:
                            other["metadata"].setdefault("deletionTimestamp", self.now())
                            self._deleted_at.setdefault(k, self.tick)
            else:
                gone = not obj["metadata"].get("finalizers")
            if gone:
                del self.store[key]
                self._deleted_at.pop(key, None)
                if kind == "Pod":  # the garbage collector: claims the pod owns (generic ephemeral volumes) go with it
                    for claim in self.all("PersistentVolumeClaim"):
                        owners = claim["metadata"].get("ownerReferences") or []
                        if claim["metadata"].get("namespace") == key[2] and any(
                            o.get("kind") == "Pod" and o.get("name") == key[3] for o in owners
                        ):
                            self._delete("v1", "PersistentVolumeClaim", "persistentvolumeclaims", key[2],
                                         claim["metadata"]["name"])  # fmt: skip

    def _log(self, namespace: str, pod: str, query: dict[str, str]) -> httpx2.Response:
        if self.get("Pod", pod, namespace) is None:
            return _status(404, "NotFound", f'pods "{pod}" not found')
        lines = self.logs.get((namespace, pod))
        if lines is None:
            return _status(400, "BadRequest", f'container "vllm" in pod "{pod}" is waiting to start: ContainerCreating')
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"]) :]
        return httpx2.Response(200, text="".join(line + "\n" for line in lines), headers={"Content-Type": "text/plain"})

    def _proxy(self, namespace: str, service: str, path: str, query: dict[str, str]) -> httpx2.Response:
        found = self.proxy.get((namespace, service))
        if found is None:
            return _status(503, "ServiceUnavailable", f'no endpoints available for service "{service}"')
        code, body = found(path, query) if callable(found) else found
        return _json(code, body)


# --- realistic objects ----------------------------------------------------------------------------------------


def make_node(
    name: str,
    instance_type: str,
    *,
    zone: str = "us-east-1a",
    capacity_type: str = "on-demand",
    nodepool: str | None = None,
    nodegroup: str | None = None,
    cpu: str = "3920m",
    memory: str = "14162Mi",
    gpus: int = 0,
    created: str | None = None,
) -> Object:
    """A node as EKS shows it: Karpenter labels (``nodepool``) or managed node group labels (``nodegroup``)."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": "us-east-1",
    }
    if nodepool:
        labels |= {"karpenter.sh/nodepool": nodepool, "karpenter.sh/capacity-type": capacity_type}
    if nodegroup:
        capacity = "SPOT" if capacity_type == "spot" else "ON_DEMAND"
        labels |= {"eks.amazonaws.com/nodegroup": nodegroup, "eks.amazonaws.com/capacityType": capacity}
    allocatable = {"cpu": cpu, "memory": memory, "pods": "58", "ephemeral-storage": "95551679124"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": created or ts(-3 * 3600)},
        "spec": {"providerID": f"aws:///{zone}/i-0{sum(map(ord, name)):016x}"},
        "status": {
            "allocatable": allocatable,
            "capacity": dict(allocatable),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def make_nodepool(
    name: str,
    *,
    nodeclass: str | None = None,
    limits: Mapping[str, str] | None = None,
    resources: Mapping[str, str] | None = None,
    nodes: int = 0,
    ready: bool = True,
) -> Object:
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name, "creationTimestamp": ts(-86400)},
        "spec": {
            "template": {
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": nodeclass or name},
                    "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
                }
            },
            "limits": dict(limits or {"cpu": "1000"}),
        },
        "status": {
            "nodes": nodes,
            "resources": dict(resources or {}),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "Ready"}],
        },
    }


def make_nodeclaim(
    name: str,
    nodepool: str,
    *,
    instance_type: str = "g5.xlarge",
    capacity_type: str = "spot",
    zone: str = "us-east-1b",
    launched: bool = True,
    node_name: str | None = None,
) -> Object:
    labels = {"karpenter.sh/nodepool": nodepool}
    if launched:
        labels |= {
            "node.kubernetes.io/instance-type": instance_type,
            "karpenter.sh/capacity-type": capacity_type,
            "topology.kubernetes.io/zone": zone,
        }
    conditions = [{"type": "Launched", "status": "True" if launched else "Unknown", "reason": "Launched"}]
    if node_name:
        conditions.append({"type": "Registered", "status": "True", "reason": "Registered"})
    status: Object = {"conditions": conditions}
    if node_name:
        status["nodeName"] = node_name
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": name, "labels": labels, "finalizers": [KARPENTER_FINALIZER]},
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": nodepool}},
        "status": status,
    }


def make_pod(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    *,
    node: str | None = None,
    requests: Mapping[str, str] | None = None,
    limits: Mapping[str, str] | None = None,
    phase: str = "Pending",
    container: Object | None = None,
    ready: bool = False,
    unschedulable: str | None = None,
    image: str = "vllm/vllm-openai:v0.32.0",
) -> Object:
    """A pod; ``container`` is its one container status (``state``/``lastState``...), None before it starts."""
    conditions = []
    if node:
        conditions.append({"type": "PodScheduled", "status": "True"})
        conditions.append({"type": "Ready", "status": "True" if ready else "False"})
    else:
        conditions.append(
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unschedulable or ""}
        )
    status: Object = {"phase": phase, "conditions": conditions}
    if container is not None:
        status["containerStatuses"] = [
            {"name": "vllm", "image": image, "imageID": "", "ready": ready, "restartCount": 0, **container}
        ]
    spec: Object = {
        "containers": [
            {
                "name": "vllm",
                "image": image,
                "resources": {"requests": dict(requests or {}), "limits": dict(limits or requests or {})},
            }
        ]
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
        "status": status,
    }


def make_event(
    pod: str,
    namespace: str,
    reason: str,
    message: str,
    *,
    component: str = "kubelet",
    type_: str = "Normal",
    at: float = 0,
    kind: str = "Pod",
) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.{reason.lower()}.{int(at * 1000)}", "namespace": namespace},
        "involvedObject": {"kind": kind, "name": pod, "namespace": namespace, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component},
        "firstTimestamp": ts(at),
        "lastTimestamp": ts(at),
        "count": 1,
    }


def make_deployment(name: str, namespace: str, labels: Mapping[str, str]) -> Object:
    """A one-replica Deployment selecting ``labels`` (the model server's shape, as a rollout watcher reads it)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "generation": 1, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "vllm", "image": "i"}]},
            },
        },
    }


def set_rollout(fake: FakeCluster, name: str, namespace: str, *, ready: int, replicas: int = 1) -> None:
    """Deployment status as the controller writes it: observed, ``replicas`` updated, ``ready`` available."""
    dep = fake.get("Deployment", name, namespace)
    assert dep is not None, f"deployment {name} was not applied"
    dep["status"] = {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}],
    }


def kubeconfig(
    path: Any,
    *,
    server: str = "https://fake-cluster.example:6443",
    contexts: Iterable[str] = ("fake",),
    token: str | None = "test-token",
) -> Any:
    """Write a kubeconfig with the given contexts (all on one cluster, token auth); returns the path.

    ``token`` None: a user without a token, as with client-certificate auth (no Authorization header is set)."""
    names = list(contexts)
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": names[0],
        "clusters": [{"name": "fake", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "dev", "user": {"token": token} if token else {}}],
        "contexts": [{"name": n, "context": {"cluster": "fake", "user": "dev"}} for n in names],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class RecordingReporter:
    """A Reporter that keeps every phase and message, to assert on what the user would see."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, str]] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []

    def phase(self, name: str, detail: str = "") -> None:
        self.phases.append((name, detail))

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def phase_names(self) -> list[str]:
        """Phase names in order, consecutive repeats collapsed."""
        out: list[str] = []
        for name, _ in self.phases:
            if not out or out[-1] != name:
                out.append(name)
        return out

    def text(self) -> str:
        return "\n".join([f"{n} {d}" for n, d in self.phases] + self.infos + self.warnings)


HF_TOKEN = "hf_test_token_value_0123456789"


def serve(cluster: Cluster, monkeypatch: Any, tmp_path: Path, *, hf_token: str | None = HF_TOKEN) -> Cluster:
    """Make ``cluster`` the API server of every Kubernetes client inferctl creates, with a fresh inferctl home,
    ``HF_TOKEN`` set (None: left as it is) and no ``INFERCTL_API_KEY`` in the environment."""
    monkeypatch.setattr("inferctl.kube.client.make_transport", lambda: cluster)
    monkeypatch.setenv("INFERCTL_HOME", str(tmp_path / "home"))
    if hf_token is not None:
        monkeypatch.setenv("HF_TOKEN", hf_token)
    monkeypatch.delenv("INFERCTL_API_KEY", raising=False)
    return cluster


def connect(fake: FakeCluster, tmp_path: Any, *, namespace: str = "inferctl", context: str | None = None) -> Any:
    """A real :class:`inferctl.kube.client.KubeClient` on a real kubeconfig file, talking to ``fake``."""
    from inferctl.config.models import KubernetesSettings
    from inferctl.kube.client import KubeClient

    path = kubeconfig(tmp_path / "kubeconfig")
    settings = KubernetesSettings(kubeconfig=str(path), namespace=namespace, context=context)
    return KubeClient.connect(settings, transport=fake)


class Clock:
    """A clock that moves only when slept on: a poller built with it waits no real time. Its wall time starts at
    :data:`BASE_TIME`, the ``ts(0)`` of the objects these tests build."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> datetime:
        return BASE_TIME + timedelta(seconds=self.now)

    def poller(self, interval_s: float = 10) -> Poller:
        return Poller(interval_s=interval_s, clock=self, sleep=self.sleep, now=self.wall)


def stepping_poller(step_s: float = 1) -> Poller:
    """A poller that never waits, whose clock advances ``step_s`` per reading (so every timeout is reached)."""
    ticks = iter(range(0, 10**9, max(1, int(step_s))))
    return Poller(interval_s=0, clock=lambda: float(next(ticks)), sleep=lambda _s: None)
