"""The Kubernetes target: any cluster in the kubeconfig (the AWS target reuses it once EKS exists).

``up``: size, render, create the secrets from the environment, server-side apply in kind order, watch the rollout
with live phases and diagnosis, wait for the model gateway (the platform's one entry) and its load balancer, print
the endpoint and ask the gateway which models it routes; with autoscaling, check that the user's Prometheus
answers KEDA's queries with data (kube.prometheus).
``down``: delete in reverse order and wait until load balancers, pods (and with ``platform`` Karpenter's nodes)
are gone. ``status``, ``endpoints``, ``logs`` and ``nodes`` read the cluster.

Heavy imports (lightkube, httpx2) happen when a method runs, never when this module is imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from inferctl.config.models import KubernetesSettings, ModelDeployment, PlatformConfig
from inferctl.errors import InferctlError, NotFoundError, OperationError
from inferctl.home import Home
from inferctl.kube_names import ANNOTATION_CACHE_URI, ANNOTATION_INSTANCE_TYPE, KARPENTER_API
from inferctl.poller import DEFAULT_POLLER, Poller
from inferctl.progress import Reporter
from inferctl.serving import check_gated_models, hf_token_from_env, platform_api_key
from inferctl.targets.base import (
    Endpoint,
    LogsCapability,
    ModelMetricsCapability,
    NodesCapability,
    PortForwardCapability,
    Target,
)
from inferctl.targets.plans import KubernetesPlan, PlannedObject, PlannedPlacement
from inferctl.targets.status import KubeModelStatus, KubernetesStatus
from inferctl.traits import TargetName

if TYPE_CHECKING:
    import httpx2

    from inferctl.kube.client import KubeClient
    from inferctl.kube.objects import Object
    from inferctl.kube.views import NodesView
    from inferctl.metrics import ModelMetricsRead
    from inferctl.sizing.placement import Placement

PORT_FORWARD_PORT = 8000  # the local port the port-forward hint suggests for the gateway
# Kinds a model owns (selected by its inferctl.io/model label) and shared ones, for teardown discovery.
MODEL_KINDS = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "PersistentVolumeClaim"),
)


def catalog_price(instance_type: str, capacity_type: str) -> float | None:
    """$/h of a node from the packaged catalog: on-demand, or the catalog's spot estimate for spot nodes."""
    from inferctl.catalog import get_instance, spot_estimate_usd_per_hour

    try:
        instance = get_instance(instance_type)
        if capacity_type == "spot":
            return spot_estimate_usd_per_hour(instance)
    except InferctlError:
        return None
    return instance.on_demand_usd_per_hour


class KubernetesTarget(Target, LogsCapability, NodesCapability, PortForwardCapability, ModelMetricsCapability):
    name: ClassVar[TargetName] = "kubernetes"

    def __init__(
        self,
        config: PlatformConfig,
        home: Home,
        *,
        client: KubeClient | None = None,
        transport: httpx2.BaseTransport | None = None,
        poller: Poller = DEFAULT_POLLER,
        include_karpenter: bool | None = None,
        assume_yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        platform_models: Sequence[ModelDeployment] | None = None,
    ) -> None:
        """``client``: an already connected client (the AWS target passes one for its EKS cluster).
        ``transport``: the HTTP transport a client made from the kubeconfig uses (tests: a fake cluster).
        ``poller``: how waits poll (tests: no pause).
        ``include_karpenter``: False when the pools are managed elsewhere (the AWS target's Pulumi program)."""
        super().__init__(config, home, assume_yes=assume_yes, confirm=confirm, platform_models=platform_models)
        self._client = client
        self._transport = transport
        self.poller = poller
        self.include_karpenter = include_karpenter

    # --- pieces ---------------------------------------------------------------------------------------------

    @property
    def settings(self) -> KubernetesSettings:
        return self.config.kubernetes

    def client(self) -> KubeClient:
        """The connected client (kubeconfig, context, and a first request that proves access)."""
        if self._client is None:
            from inferctl.kube.client import KubeClient

            self._client = KubeClient.connect(self.settings, transport=self._transport)
        return self._client

    def placements(self) -> dict[str, Placement]:
        from inferctl.sizing import plan_platform

        return dict(plan_platform(self.config).placements)

    def karpenter(self) -> bool:
        return self.config.uses_karpenter if self.include_karpenter is None else self.include_karpenter

    def needs_hf_token(self) -> bool:
        """A gated model and no HF_TOKEN in the environment: only an existing HuggingFace Secret can stand in."""
        return hf_token_from_env() is None and any(m.is_gated for m in self.config.models)

    def secret_values(self, *, hf_secret_exists: bool = False) -> dict[str, str | None]:
        """HF_TOKEN from the environment (required for gated models unless the namespace already holds the
        HuggingFace Secret) and the platform's API key."""
        token = hf_token_from_env()
        if not hf_secret_exists:
            check_gated_models(self.config.models, token)
        return {"hf_token": token, "api_key": platform_api_key(self.config, self.home)}

    def render(
        self, placements: Mapping[str, Placement], values: Mapping[str, str | None] | None = None
    ) -> list[Object]:
        """The platform's objects. Secrets carry data only when ``values`` has it; a secret without a value is
        left out so applying never erases a token set by an earlier run."""
        from inferctl.render import render_platform

        objects = render_platform(self.config, placements, secret_values=values, include_karpenter=self.karpenter())
        return [o for o in objects if o.get("kind") != "Secret" or o.get("data")]

    # --- lifecycle -----------------------------------------------------------------------------------------

    def plan(self) -> KubernetesPlan:
        from inferctl.render import render_platform
        from inferctl.render.karpenter import disruption_warnings

        placements = self.placements()
        # Secret shapes without values: the plan shows what up creates, never the values.
        objects = render_platform(self.config, placements, include_karpenter=self.karpenter())
        return KubernetesPlan(
            target=self.name,
            platform=self.config.name,
            context=self.settings.context or "(kubeconfig current context)",
            namespace=self.settings.namespace,
            placements=[
                PlannedPlacement(
                    model=name,
                    instance_type=p.instance_type,
                    gpus=p.resources.gpus,
                    max_model_len=p.max_model_len,
                    on_demand_usd_per_hour=p.on_demand_usd_per_hour,
                )
                for name, p in placements.items()
            ],
            objects=[PlannedObject(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects],
            warnings=disruption_warnings(self.config),
        )

    def up(self, reporter: Reporter) -> list[Endpoint]:
        from inferctl.kube.apply import apply_objects
        from inferctl.kube.diagnose import ModelContext
        from inferctl.kube.gateway import smoke_through_gateway, wait_for_gateway
        from inferctl.kube.keda import check_autoscalers_installed, stale_autoscaling_objects
        from inferctl.kube.objects import describe, name_of, namespace_of
        from inferctl.kube.prometheus import check_prometheus_data
        from inferctl.kube.rollout import RolloutWatcher, WatchedDeployment
        from inferctl.render import check_platform
        from inferctl.render.secrets import secret_owner

        secret_name = self.config.secrets.hf_secret_name
        hf_secret: Object | None = None
        if self.needs_hf_token():  # before anything else, and by reads only: a missing HF_TOKEN changes nothing
            hf_secret = self.client().get("v1", "Secret", secret_name)
        values = self.secret_values(hf_secret_exists=hf_secret is not None)
        reporter.phase("sizing")
        placements = self.placements()
        check_platform(self.config, placements)  # what plan and render refuse, before the cluster is touched
        reporter.phase("connecting", self.settings.context or "current context")
        client = self.client()
        check_autoscalers_installed(client, self.config)
        hf_secret = hf_secret or client.get("v1", "Secret", secret_name)
        objects = self._with_the_platforms_gateway(client, self.render(placements, values), placements, reporter)
        if hf_secret is not None and secret_owner(hf_secret) != self.config.name:
            reporter.info(
                f"Secret {secret_name} exists and was not created by inferctl: using it as it is (down keeps it)"
            )
            objects = [o for o in objects if (o.get("kind"), name_of(o)) != ("Secret", secret_name)]
        # Before the apply: a stale ScaledObject would resize the Deployment this apply gives a fixed count.
        for stale in stale_autoscaling_objects(client, self.config, objects):
            reporter.info(f"{describe(stale)} is no longer in the config: deleting it")
            client.delete(stale["apiVersion"], stale["kind"], name_of(stale), namespace_of(stale))
        objects = self._mirror_model_cache(client, objects, reporter)
        apply_objects(client, objects, reporter)
        watched = [
            WatchedDeployment(
                model.name,
                ModelContext(model.name, model.source, model.is_gated, placements.get(model.name)),
            )
            for model in self.config.models
        ]
        RolloutWatcher(
            client,
            reporter,
            timeout_s=self.settings.rollout_timeout_s,
            poller=self.poller,
            karpenter=self.karpenter(),
            gpu_pool=self.config.pools.gpu.name,
            kubernetes_version=self.settings.kubernetes_version,
        ).wait(watched)
        self._record_cold_starts(client, reporter)
        wait_for_gateway(client, self.config, reporter, self.poller)
        service = self._wait_for_address(client, reporter)
        endpoints = [self._endpoint(m, service) for m in self.config.models]
        for model in self.config.models:
            self._at_zero(client, model, reporter)
        smoke_through_gateway(client, self.config, reporter)
        check_prometheus_data(client, self.config, objects, reporter, poller=self.poller)
        return endpoints

    def _with_the_platforms_gateway(
        self, client: KubeClient, objects: list[Object], placements: Mapping[str, Placement], reporter: Reporter
    ) -> list[Object]:
        """``up --model NAME`` deploys one model of several: the gateway is rendered from the platform's other
        models that run too, so they keep what a full ``up`` gave it (a sleeping model's wake worker, the timeouts
        its request chain needs) while their own objects are left as they are. A model of the file never deployed
        gets no route (it would lead nowhere)."""
        whole = self.platform_config()
        if whole is self.config:
            return objects
        from inferctl.kube.objects import identity, labels_of
        from inferctl.render import LABEL_MODEL, LABEL_PLATFORM, render_gateway, sort_for_apply
        from inferctl.sizing import plan_platform

        running = client.list("apps/v1", "Deployment", labels={LABEL_PLATFORM: self.config.name})
        keep = {labels_of(o).get(LABEL_MODEL) for o in running} | {m.name for m in self.config.models}
        served = whole.model_copy(update={"models": [m for m in whole.models if m.name in keep]})
        if len(served.models) == len(self.config.models):
            return objects
        sized: dict[str, Placement | None] = {m.name: None for m in served.models}
        try:
            sized |= plan_platform(served).placements
        except InferctlError as exc:  # their wake timeouts fall back to the longest the request chain allows
            reporter.warn(f"the platform's other models do not size ({exc.message}); the gateway keeps them routed")
        sized |= placements
        narrowed = {identity(o) for o in render_gateway(self.config, placements)}
        return sort_for_apply([o for o in objects if identity(o) not in narrowed] + render_gateway(served, sized))

    COLD_START_FILE = "cold-start.json"

    def _record_cold_starts(self, client: KubeClient, reporter: Reporter) -> None:
        """Print how long each phase of every model pod's start took; keep it for ``status``."""
        from inferctl.kube.rollout import nominated_nodeclaim
        from inferctl.kube.timeline import pod_timeline, summarize
        from inferctl.render import LABEL_MODEL, LABEL_PLATFORM

        records = []
        for model in self.config.models:
            labels = {LABEL_PLATFORM: self.config.name, LABEL_MODEL: model.name}
            for pod in client.list("v1", "Pod", labels=labels):
                name = pod["metadata"]["name"]
                events = client.list("v1", "Event", fields={"involvedObject.name": name})
                claim_name = nominated_nodeclaim(events)
                claim = client.get(KARPENTER_API, "NodeClaim", claim_name) if claim_name else None
                phases = pod_timeline(pod, events, claim, client.tail(name, lines=2000))
                if not phases:
                    continue
                summary = summarize(phases)
                reporter.info(f"cold start {name}: {summary}")
                total = (phases[-1].at - phases[0].at).total_seconds()
                records.append(
                    {
                        "model": model.name,
                        "pod": name,
                        "total_s": round(total, 1),
                        "summary": summary,
                        "phases": [p.to_dict() for p in phases],
                    }
                )
        if records:
            path = self.home.ensure(self.home.target_dir(self.config.name, "kubernetes")) / self.COLD_START_FILE
            path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")

    def last_cold_starts(self) -> list[dict[str, Any]]:
        path = self.home.target_dir(self.config.name, "kubernetes") / self.COLD_START_FILE
        if not path.is_file():
            return []
        records: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return [{k: r[k] for k in ("model", "pod", "total_s", "summary")} for r in records]

    def _mirror_model_cache(self, client: KubeClient, objects: list[Object], reporter: Reporter) -> list[Object]:
        """S3 model cache: mirror what the bucket lacks before the Deployments that stream it are applied; a compile
        Job goes with them only when its compile cache is not known to be written (it takes a GPU node)."""
        if not any(o.get("kind") == "Job" for o in objects):
            return objects
        from inferctl.aws.cache_bucket import is_mirrored, is_written
        from inferctl.kube.mirror_jobs import MirrorRunner, is_mirror_job, mirror_before_serving
        from inferctl.render.model_cache import mirror_job_name

        by_job = {mirror_job_name(m): (i, m) for i, m in enumerate(self.config.models)}
        runner = MirrorRunner(
            client,
            reporter,
            timeout_s=self.config.cache.mirror_timeout_s,
            poller=self.poller,
        )

        def mirrored(job: str) -> bool | None:
            index, model = by_job[job]
            return is_mirrored(self.config, model, index)

        kept = []
        for obj in mirror_before_serving(runner, objects, mirrored):
            uri = (obj.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_CACHE_URI)
            if obj.get("kind") == "Job" and not is_mirror_job(obj) and uri:
                if is_written(self.config, uri) is True:
                    reporter.info(f"compile cache: already written to {uri}")
                    continue
                reporter.info(f"compile cache: Job {obj['metadata']['name']} writes {uri} (one GPU node, once)")
            kept.append(obj)
        return kept

    def _wait_for_address(self, client: KubeClient, reporter: Reporter) -> Object | None:
        """The gateway's Service; a LoadBalancer one once it has an address (or a diagnosis)."""
        from inferctl.kube.diagnose import diagnose_load_balancer, load_balancer_hostname
        from inferctl.render.gateway import gateway_name

        name = gateway_name(self.config)
        start = self.poller.clock()
        while True:
            service = client.get("v1", "Service", name)
            if service is None or service.get("spec", {}).get("type") != "LoadBalancer":
                return service
            if load_balancer_hostname(service):
                return service
            waited = self.poller.clock() - start
            reporter.phase("waiting for the load balancer", f"Service {name} ({waited:.0f}s)")
            events = client.list("v1", "Event", fields={"involvedObject.name": name, "involvedObject.kind": "Service"})
            found = diagnose_load_balancer(
                service, events, waited_s=waited, grace_s=self.settings.load_balancer_timeout_s
            )
            if found is not None:
                raise found.error()
            self.poller.pause()

    def _endpoint(self, model: ModelDeployment, service: Object | None) -> Endpoint:
        """``model`` at the platform's one entry: the gateway's load balancer, else a port-forward to it."""
        from inferctl.kube.diagnose import load_balancer_hostname
        from inferctl.render.gateway import gateway_name

        key = platform_api_key(self.config, self.home, create=False)
        ports = (service or {}).get("spec", {}).get("ports") or [{"port": 80}]
        port = int(ports[0].get("port", 80))
        host = load_balancer_hostname(service) if service else None
        if host:
            note = None
            if self.config.endpoint.exposure.scheme == "internal":
                note = "internal load balancer: reachable from inside the VPC (or use kubectl port-forward)"
            suffix = "" if port == 80 else f":{port}"
            return Endpoint(model.model_name, f"http://{host}{suffix}/v1", key, note)
        name, namespace = gateway_name(self.config), self.settings.namespace
        return Endpoint(
            model.model_name,
            f"http://127.0.0.1:{PORT_FORWARD_PORT}/v1",
            key,
            f"no load balancer: run 'kubectl port-forward -n {namespace} svc/{name} {PORT_FORWARD_PORT}:{port}' "
            "first (or 'inferctl chat --port-forward')",
        )

    def _at_zero(self, client: KubeClient, model: ModelDeployment, reporter: Reporter) -> bool:
        """KEDA has scaled the model to zero (a re-run of up while idle): say that its first request wakes it."""
        if model.autoscaling is None or not model.autoscaling.scales_to_zero:
            return False
        deployment = client.get("apps/v1", "Deployment", model.name) or {}
        if deployment.get("spec", {}).get("replicas", 1) != 0:
            return False
        reporter.info(f"{model.name} is scaled to zero; its first request wakes it (see 'inferctl plan' for how long)")
        return True

    def down(self, reporter: Reporter, *, platform: bool = False) -> None:
        from inferctl.kube.objects import labels_of
        from inferctl.kube.teardown import Teardown
        from inferctl.render import LABEL_MODEL, LABEL_PLATFORM, render_karpenter

        client = self.client()
        names = {m.name for m in self.config.models}
        rendered = self._render_for_teardown()
        model_objects = [o for o in rendered if labels_of(o).get(LABEL_MODEL) in names]
        model_objects += self._discover(client, names, model_objects)
        shared = [o for o in rendered if LABEL_MODEL not in labels_of(o)]
        teardown = Teardown(
            client,
            reporter,
            timeout_s=self.settings.delete_timeout_s,
            poller=self.poller,
        )
        teardown.run(model_objects)
        deployments = client.list("apps/v1", "Deployment", labels={LABEL_PLATFORM: self.config.name})
        others = [o for o in deployments if LABEL_MODEL in labels_of(o)]  # the gateway goes with the platform
        if others:
            left = ", ".join(sorted(o["metadata"]["name"] for o in others))
            reporter.warn(f"models {left} still run: keeping the namespace, secrets and node pools")
            return
        # By the config, not include_karpenter: the AWS target applies the pools with Pulumi but relies on this
        # teardown to delete them first and wait until Karpenter's nodes are gone.
        pools = render_karpenter(self.config) if self.config.uses_karpenter else []
        teardown.run(shared, platform_objects=pools, platform=platform)

    def _render_for_teardown(self) -> list[Object]:
        """What up would apply; without sizing (a model that no longer sizes) the shared objects only."""
        from inferctl.render import render_namespace, render_observability, render_secrets

        try:
            return self.render(self.placements(), None) + render_secrets(self.config)
        except InferctlError:
            return [
                render_namespace(self.config, on_aws=self.config.traits.owns_infrastructure),
                *render_secrets(self.config),
                *render_observability(self.config),
            ]

    def _discover(self, client: KubeClient, names: set[str], known: list[Object]) -> list[Object]:
        """Live objects of these models that rendering did not produce (a changed config left them behind)."""
        from inferctl.kube.keda import live_autoscaling_objects
        from inferctl.kube.objects import identity
        from inferctl.render import LABEL_MODEL, LABEL_PLATFORM

        seen = {identity(o) for o in known}
        selector = {LABEL_PLATFORM: self.config.name}
        live: list[Object] = []
        for api_version, kind in MODEL_KINDS:
            live += client.list(api_version, kind, labels=selector)
        # A model that scaled to zero left its scaler, routes and wake Service (KEDA's namespace).
        live += live_autoscaling_objects(client, self.config)
        return [
            o for o in live if o["metadata"].get("labels", {}).get(LABEL_MODEL) in names and identity(o) not in seen
        ]

    # --- reads ---------------------------------------------------------------------------------------------

    def status(self) -> KubernetesStatus:
        from inferctl.kube.gateway import gateway_view
        from inferctl.kube.keda import scaler_view
        from inferctl.kube.rollout import rollout_state
        from inferctl.kube.views import nodepool_rows
        from inferctl.render.gateway import gateway_name

        client = self.client()
        service = client.get("v1", "Service", gateway_name(self.config))
        models = []
        for model in self.config.models:
            deployment = client.get("apps/v1", "Deployment", model.name)
            if deployment is None:
                models.append(KubeModelStatus(model.name, model.model_name, "not deployed", 0, 0, None, deployed=False))
                continue
            try:
                state = "ready" if rollout_state(deployment).done else "progressing"
            except OperationError:
                state = "failed"
            models.append(
                KubeModelStatus(
                    name=model.name,
                    model=model.model_name,
                    state=state,
                    replicas=int(deployment.get("spec", {}).get("replicas", 0)),
                    ready=int(deployment.get("status", {}).get("readyReplicas") or 0),
                    endpoint=self._endpoint(model, service).base_url,
                    instance_type=deployment["metadata"].get("annotations", {}).get(ANNOTATION_INSTANCE_TYPE),
                    autoscaling=scaler_view(client, model),
                )
            )
        entry = self._endpoint(self.config.models[0], service) if service is not None else None
        pools = client.list(KARPENTER_API, "NodePool", missing_ok=True)
        return KubernetesStatus(
            target=self.name,
            platform=self.config.name,
            context=client.context,
            namespace=client.namespace,
            gateway=gateway_view(client, self.config, service, entry.base_url if entry else None),
            models=models,
            nodepools=nodepool_rows(pools, now=datetime.now(UTC)),
            last_cold_start=self.last_cold_starts(),
        )

    def endpoints(self) -> list[Endpoint]:
        """Every deployed model at the one base URL of the platform's gateway."""
        from inferctl.render.gateway import gateway_name

        client = self.client()
        service = client.get("v1", "Service", gateway_name(self.config))
        deployed = [m for m in self.config.models if client.get("apps/v1", "Deployment", m.name) is not None]
        if service is None or not deployed:
            raise NotFoundError(
                f"no model of platform {self.config.name} runs in namespace {client.namespace} (context "
                f"{client.context}); start it with 'inferctl up --target kubernetes'"
            )
        return [self._endpoint(model, service) for model in deployed]

    @contextmanager
    def port_forward(self, model: str | None = None, *, local_port: int | None = None) -> Iterator[Endpoint]:
        """The gateway through ``kubectl port-forward`` for the block (``chat --port-forward``), for ``model``
        (the first configured one by default): one local port reaches every model."""
        from inferctl.kube.portforward import port_forward
        from inferctl.render.gateway import gateway_name

        chosen = next((m for m in self.config.models if model in {m.name, m.model_name}), self.config.models[0])
        key = platform_api_key(self.config, self.home, create=False)
        service = gateway_name(self.config)
        with port_forward(self.settings, service, local_port=local_port or PORT_FORWARD_PORT) as base_url:
            yield Endpoint(chosen.model_name, base_url, key, f"through kubectl port-forward to svc/{service}")

    def logs(self, *, model: str | None, follow: bool, tail: int | None) -> Iterator[str]:
        from inferctl.kube.objects import first_container_name, name_of, pod_is_ready

        chosen = self.config.models[0].name if model is None else model
        if chosen not in {m.name for m in self.config.models}:
            chosen = self.config.models[0].name  # --model gave a source: the config holds just that model
        client = self.client()
        deployment = client.get("apps/v1", "Deployment", chosen)
        if deployment is None:
            raise NotFoundError(f"model {chosen} is not deployed in namespace {client.namespace}; run 'inferctl up'")
        selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
        pods = client.list("v1", "Pod", labels=selector)
        if not pods:
            raise NotFoundError(f"model {chosen} has no pods yet; see 'inferctl status'")
        # A ready pod's log first, else the newest pod's (the one a rollout is waiting for).
        pods.sort(key=lambda p: (pod_is_ready(p), p["metadata"].get("creationTimestamp", "")), reverse=True)
        pod = pods[0]
        yield from client.logs(name_of(pod), container=first_container_name(pod), tail=tail, follow=follow)

    def nodes(self) -> NodesView:
        from dataclasses import replace

        from lightkube import operators

        from inferctl.kube.views import nodes_view

        client = self.client()
        nodes = client.list("v1", "Node")
        # Finished pods hold no resources; everything else bound to a node counts.
        pods = client.list(
            "v1", "Pod", all_namespaces=True, fields={"status.phase": operators.not_in(["Succeeded", "Failed"])}
        )
        view = nodes_view(nodes, pods, price=catalog_price, now=datetime.now(UTC))
        return replace(view, context=client.context)

    def model_metrics(self) -> ModelMetricsRead:
        from inferctl.kube.model_metrics import read_model_metrics

        return read_model_metrics(self.client(), self.config)


__all__ = ["KubernetesTarget", "catalog_price"]
