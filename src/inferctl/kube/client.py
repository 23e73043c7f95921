"""The Kubernetes client inferctl uses: lightkube underneath, plain dicts on top, errors that say what to do.

lightkube builds each request as data (``BasicRequest``) and sends it through one httpx transport; that
transport is the only seam tests replace (:func:`make_transport` returns None here, the real network).

Errors, translated once here::

    kubeconfig missing              NotFoundError  (exit 2)
    context not in the kubeconfig   NotFoundError  (exit 2, lists the contexts)
    API server unreachable          UserError      (exit 2) at connect; OperationError (exit 1) mid-operation
    401 / 403                       UserError      (exit 2): credentials or namespace access
    409 Conflict                    FieldConflict  (an OperationError, exit 1): callers that expect one catch it
    anything else from the API      OperationError (exit 1) with the API's message
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube import ALL_NS, ApiError, Client, KubeConfig, SingleConfig
from lightkube.config.client_adapter import Client as adapter_client
from lightkube.config.client_adapter import ConnectionParams
from lightkube.core.exceptions import ConfigError as LightkubeConfigError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.types import PatchType

from inferctl.config.models import KubernetesSettings
from inferctl.errors import ConfigError, NotFoundError, OperationError, UserError
from inferctl.kube.objects import Object, name_of, namespace_of

FIELD_MANAGER = "inferctl"
DEFAULT_KUBECONFIG = Path("~/.kube/config")

# Custom resources inferctl reads or writes: (group, version, kind, plural, namespaced).
CUSTOM_RESOURCES = (
    ("karpenter.sh", "v1", "NodePool", "nodepools", False),
    ("karpenter.sh", "v1", "NodeClaim", "nodeclaims", False),
    ("karpenter.k8s.aws", "v1", "EC2NodeClass", "ec2nodeclasses", False),
    ("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", True),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
    ("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects", True),
    ("http.keda.sh", "v1beta1", "InterceptorRoute", "interceptorroutes", True),
)


class FieldConflict(OperationError):
    """The API answered 409 Conflict: an unforced server-side apply set a field another manager owns to another
    value (or the object is being deleted). Same message and exit code as any failed request."""


class ServerUnreachable(UserError):
    """The API server did not answer the first request (DNS, network, a firewall, an endpoint's allowed blocks),
    so nothing was changed. Same message and exit code as any such refusal; a target that knows why it can be
    unreachable (the AWS target: its endpoint's allowed blocks) catches it to say so."""


def make_transport() -> httpx2.BaseTransport | None:
    """The HTTP transport for new clients: None means lightkube's real one. Tests replace this function."""
    return None


def resource_class(api_version: str, kind: str) -> Any:
    """The lightkube resource class for ``apiVersion``/``kind`` (custom resources registered on first use)."""
    for group, version, crd_kind, plural, namespaced in CUSTOM_RESOURCES:
        if api_version == f"{group}/{version}" and kind == crd_kind:
            create = create_namespaced_resource if namespaced else create_global_resource
            return create(group, version, crd_kind, plural)
    try:
        return resource_registry.load(api_version, kind)
    except Exception as exc:
        raise OperationError(f"inferctl cannot handle {api_version} {kind}: {exc}") from None


def load_kubeconfig(settings: KubernetesSettings) -> tuple[KubeConfig, str]:
    """The kubeconfig (``kubernetes.kubeconfig``, else ``$KUBECONFIG`` merged as kubectl does, else
    ``~/.kube/config``) and a description of where it came from."""
    raw = settings.kubeconfig or os.environ.get("KUBECONFIG") or str(DEFAULT_KUBECONFIG)
    paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    existing = [p for p in paths if p.is_file()]
    where = os.pathsep.join(str(p) for p in paths)
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):  # running inside a pod: its service account
            try:
                return KubeConfig.from_service_account(), "in-cluster service account"
            except LightkubeConfigError:
                pass
        raise NotFoundError(
            f"no kubeconfig at {where}; point KUBECONFIG or kubernetes.kubeconfig at one "
            "(on EKS: aws eks update-kubeconfig --name <cluster>)"
        )
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    for path in existing:  # kubectl's merge rule: the first file that defines a name wins
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"kubeconfig {path} is not valid YAML ({exc}); fix or regenerate it") from None
        if not isinstance(data, dict):
            raise ConfigError(f"kubeconfig {path} is not a kubeconfig mapping; fix or regenerate it")
        if not merged.get("current-context"):
            merged["current-context"] = data.get("current-context")
        for key in ("clusters", "contexts", "users"):
            seen = {item["name"] for item in merged[key]}
            merged[key] += [item for item in data.get(key) or [] if item.get("name") not in seen]
    try:
        return KubeConfig.from_dict(merged, fname=existing[0]), where
    except Exception as exc:
        raise ConfigError(f"kubeconfig {where} could not be read ({exc}); fix or regenerate it") from None


def select_context(kubeconfig: KubeConfig, wanted: str | None, where: str) -> SingleConfig:
    """The chosen context (``kubernetes.context`` or the current one); a wrong name lists the valid ones."""
    available = ", ".join(sorted(kubeconfig.contexts)) or "(none)"
    name = wanted or kubeconfig.current_context
    if not name:
        raise NotFoundError(f"kubeconfig {where} has no current context; set kubernetes.context to one of: {available}")
    if name not in kubeconfig.contexts:
        raise NotFoundError(
            f"context {name!r} is not in kubeconfig {where}; set kubernetes.context to one of: {available}"
        )
    context = kubeconfig.contexts[name]
    if context.cluster not in kubeconfig.clusters:
        raise ConfigError(f"context {name!r} names cluster {context.cluster!r}, which kubeconfig {where} lacks")
    if context.user and context.user not in kubeconfig.users:
        raise ConfigError(f"context {name!r} names user {context.user!r}, which kubeconfig {where} lacks")
    single = kubeconfig.get(name)
    assert single is not None
    return single


class KubeClient:
    """A lightkube client bound to one context and namespace, speaking plain dicts."""

    def __init__(
        self,
        single: SingleConfig,
        namespace: str,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.config = single
        self.context = single.context_name
        self.server = single.cluster.server
        self.namespace = namespace
        self._timeout = httpx2.Timeout(timeout_s)
        self._transport = transport
        self._http: httpx2.Client | None = None
        try:
            # Any: lightkube's overloads cannot follow a resource class chosen at run time.
            self._client: Any = Client(
                config=single,
                namespace=namespace,
                field_manager=FIELD_MANAGER,
                timeout=self._timeout,
                transport=transport,
            )
        except (LightkubeConfigError, OSError, ValueError) as exc:
            raise ConfigError(
                f"context {self.context!r} cannot be used ({exc}); fix its entry in the kubeconfig"
            ) from None

    @classmethod
    def connect(cls, settings: KubernetesSettings, *, transport: httpx2.BaseTransport | None = None) -> KubeClient:
        """Load the kubeconfig, select the context, and check the namespace answers (one cheap request)."""
        kubeconfig, where = load_kubeconfig(settings)
        single = select_context(kubeconfig, settings.context, where)
        client = cls(single, settings.namespace, transport=transport if transport is not None else make_transport())
        client.preflight()
        return client

    def close(self) -> None:
        self._client.close()
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- error translation --------------------------------------------------------------------------------

    @contextmanager
    def errors(self, action: str, *, starting: bool = False) -> Iterator[None]:
        """Turn transport and API errors into inferctl errors. ``starting``: nothing was changed yet (exit 2)."""
        try:
            yield
        except httpx2.HTTPStatusError as exc:
            raise self._api_error(exc, action) from None
        except httpx2.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            if starting:
                raise ServerUnreachable(
                    f"cannot reach the Kubernetes API server {self.server} (context {self.context}): {reason}; "
                    "check the cluster runs and your network or VPN reaches it, or choose kubernetes.context"
                ) from None
            raise OperationError(
                f"lost the Kubernetes API server {self.server} while {action}: {reason}; "
                "re-run the command (it is safe to repeat)"
            ) from None

    def _api_error(self, exc: httpx2.HTTPStatusError, action: str) -> Exception:
        code = exc.response.status_code
        message = _status_message(exc)
        if code == 401:
            return UserError(
                f"the API server rejected the credentials of context {self.context} (401 Unauthorized); "
                "refresh them (on EKS: aws eks update-kubeconfig) and retry"
            )
        if code == 403:
            return UserError(
                f"forbidden while {action}: {message}; ask a cluster admin for access to namespace "
                f"{self.namespace}, or set kubernetes.namespace to one you may use"
            )
        error = FieldConflict if code == 409 else OperationError
        return error(f"{action} failed: {message} (HTTP {code})")

    def preflight(self) -> None:
        """One list of pods in the namespace: proves the server answers and we may work there."""
        pods = resource_class("v1", "Pod")
        with self.errors(f"listing pods in namespace {self.namespace}", starting=True):
            for _ in self._client.list(pods, namespace=self.namespace, chunk_size=1):
                break

    # --- reads --------------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Object | None:
        """The object, or None when it does not exist (or its kind is not installed)."""
        res = resource_class(api_version, kind)
        kwargs = {"namespace": namespace or self.namespace} if _namespaced(res) else {}
        with self.errors(f"reading {kind} {name}"), _none_on_404() as missing:
            return _as_dict(self._client.get(res, name, **kwargs))
        assert missing
        return None

    def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        labels: Mapping[str, str] | None = None,
        fields: Mapping[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> list[Object]:
        """Objects of a kind. ``fields``: lightkube field selectors (a string is ``=``; ``operators.not_in``...).
        ``missing_ok``: a kind the cluster lacks (no Karpenter CRDs) lists as empty."""
        res = resource_class(api_version, kind)
        kwargs: dict[str, Any] = {}
        if _namespaced(res):
            kwargs["namespace"] = ALL_NS if all_namespaces else (namespace or self.namespace)
        if labels:
            kwargs["labels"] = dict(labels)
        if fields:
            kwargs["fields"] = dict(fields)
        # List items come without apiVersion and kind from a real API server: restore them.
        typed = {"apiVersion": api_version, "kind": kind}
        if not missing_ok:
            with self.errors(f"listing {kind}"):
                return [{**_as_dict(item), **typed} for item in self._client.list(res, **kwargs)]
        with self.errors(f"listing {kind}"), _none_on_404():
            return [{**_as_dict(item), **typed} for item in self._client.list(res, **kwargs)]
        return []

    def logs(
        self,
        pod: str,
        *,
        container: str | None = None,
        tail: int | None = None,
        follow: bool = False,
        namespace: str | None = None,
    ) -> Iterator[str]:
        """Log lines of a pod's container, without newlines. A container that has not started yields nothing."""
        with self.errors(f"reading the log of pod {pod}"):
            try:
                yield from self._client.log(
                    pod,
                    namespace=namespace or self.namespace,
                    container=container,
                    tail_lines=tail,
                    follow=follow,
                    newlines=False,
                )
            except httpx2.HTTPStatusError as exc:
                if exc.response.status_code not in (400, 404):  # 400: not started yet; 404: pod gone
                    raise

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the cluster serves ``kind`` at all (for a custom resource: its CRD is installed)."""
        res = resource_class(api_version, kind)
        kwargs = {"namespace": self.namespace} if _namespaced(res) else {}
        with self.errors(f"checking that the cluster serves {kind}", starting=True), _none_on_404() as missing:
            for _ in self._client.list(res, chunk_size=1, **kwargs):
                break
        return not missing

    def tail(self, pod: str, *, container: str | None = None, lines: int = 40) -> builtins.list[str]:
        """The last ``lines`` log lines of a pod, or [] when there are none yet."""
        return list(self.logs(pod, container=container, tail=lines))

    def proxy_get(
        self,
        service: str,
        port: str | int,
        path: str,
        *,
        namespace: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        """GET ``path`` (with query ``params``) on a Service, in ``namespace`` (default: the client's), through the
        API server's service proxy: (status code, body). ``service`` may carry a scheme (``https:name``).

        The API server strips the caller's Authorization header before proxying: no credential reaches the
        service this way."""
        if self._http is None:
            self._http = adapter_client(self.config, ConnectionParams(timeout=self._timeout, transport=self._transport))
        where = namespace or self.namespace
        url = f"/api/v1/namespaces/{where}/services/{service}:{port}/proxy/{path.lstrip('/')}"
        with self.errors(f"calling service {service} through the API server"):
            response = self._http.get(url, params=dict(params or {}))
        return response.status_code, response.text

    def server_version(self) -> str | None:
        """The cluster's Kubernetes ``major.minor`` from ``/version`` (EKS answers e.g. minor ``36+``), or None."""
        if self._http is None:
            self._http = adapter_client(self.config, ConnectionParams(timeout=self._timeout, transport=self._transport))
        try:
            response = self._http.get("/version")
            info = response.json() if response.status_code == 200 else {}
        except (httpx2.HTTPError, ValueError):
            return None
        major = "".join(c for c in str(info.get("major", "")) if c.isdigit())
        minor = "".join(c for c in str(info.get("minor", "")) if c.isdigit())
        return f"{major}.{minor}" if major and minor else None

    # --- writes -------------------------------------------------------------------------------------------

    def apply(self, obj: Object, *, field_manager: str = FIELD_MANAGER, force: bool = True) -> Object:
        """Server-side apply, by default as field manager ``inferctl`` with conflicts forced: inferctl owns what it
        renders. Unforced, a conflict with another manager raises :class:`FieldConflict`."""
        res = resource_class(str(obj["apiVersion"]), str(obj["kind"]))
        kwargs = {"namespace": namespace_of(obj) or self.namespace} if _namespaced(res) else {}
        body = dict(obj)
        if _namespaced(res):
            body["metadata"] = {**obj.get("metadata", {}), "namespace": kwargs["namespace"]}
        with (
            self.errors(f"applying {obj['kind']} {name_of(obj)}"),
            _no_such_api(str(obj["apiVersion"]), str(obj["kind"])),
        ):
            result = self._client.patch(
                res,
                name_of(obj),
                body,
                patch_type=PatchType.APPLY,
                field_manager=field_manager,
                force=force,
                **kwargs,
            )
        return _as_dict(result)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Ask the API to delete; False when it was already gone (deleting is idempotent)."""
        res = resource_class(api_version, kind)
        kwargs = {"namespace": namespace or self.namespace} if _namespaced(res) else {}
        with self.errors(f"deleting {kind} {name}"), _none_on_404():
            self._client.delete(res, name, **kwargs)
            return True
        return False


class _Missing:
    """Set by :func:`_none_on_404` when the API said 404."""

    def __init__(self) -> None:
        self.hit = False

    def __bool__(self) -> bool:
        return self.hit


@contextmanager
def _none_on_404() -> Iterator[_Missing]:
    """Swallow a 404 (the object, or its whole kind, does not exist); the caller falls through to its default."""
    missing = _Missing()
    try:
        yield missing
    except httpx2.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
        missing.hit = True


@contextmanager
def _no_such_api(api_version: str, kind: str) -> Iterator[None]:
    """A plain-text 404 on a write means the cluster does not serve the kind at all (its CRD is missing)."""
    try:
        yield
    except httpx2.HTTPStatusError as exc:
        if exc.response.status_code == 404 and not isinstance(exc, ApiError):
            hint = missing_kind_hint(api_version)
            raise OperationError(f"the cluster does not serve {kind} ({api_version}); {hint}") from None
        raise


def missing_kind_hint(api_version: str) -> str:
    """What to do when the cluster lacks the CRD of a kind inferctl renders."""
    group = api_version.split("/", 1)[0]
    if group == "monitoring.coreos.com":
        return "install the Prometheus Operator (kube-prometheus-stack) or set observability.prometheus: false"
    if group in ("karpenter.sh", "karpenter.k8s.aws"):
        return "install Karpenter v1 on the cluster or set kubernetes.karpenter: false"
    if group in ("keda.sh", "http.keda.sh"):  # checked earlier with the Helm command (inferctl.kube.keda)
        return "install KEDA (and its HTTP add-on for min_replicas 0) or remove models[].autoscaling"
    return "install its CustomResourceDefinition or turn that feature off"


def _status_message(exc: httpx2.HTTPStatusError) -> str:
    """The API's own message (a ``Status`` body), else the response text."""
    if isinstance(exc, ApiError) and exc.status is not None and exc.status.message:
        return str(exc.status.message).rstrip(".")
    text = exc.response.text.strip() if exc.response is not None else ""
    return (text.splitlines()[0] if text else str(exc)).rstrip(".")


def _namespaced(res: Any) -> bool:
    from lightkube.core import resource as r

    return issubclass(res, r.NamespacedResource | r.NamespacedSubResource)


def _as_dict(obj: Any) -> Object:
    if isinstance(obj, dict):
        out = dict(obj)
        meta = out.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            out["metadata"] = meta.to_dict()
        return out
    result: Object = obj.to_dict()
    return result


__all__ = [
    "CUSTOM_RESOURCES",
    "FIELD_MANAGER",
    "FieldConflict",
    "KubeClient",
    "load_kubeconfig",
    "make_transport",
    "missing_kind_hint",
    "resource_class",
    "select_context",
]
