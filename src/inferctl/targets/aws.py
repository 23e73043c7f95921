"""The AWS target: EKS + Karpenter provisioned by Pulumi, then the models deployed by the Kubernetes target.

``up``: size -> preflight as a gate (credentials, offerings, quotas, spot role, AMI parameters, endpoint access,
pulumi CLI; any failure and nothing is created) -> ``pulumi up`` with live progress -> the Kubernetes target
deploys the models on the new cluster. ``down --platform``: the Kubernetes target's ordered teardown (load
balancers, NodePools and their nodes) -> proof that nothing holding AWS resources remains, else a refusal ->
``pulumi destroy`` -> a check (whatever destroy did) that nothing of the cluster remains. Reads go through the
Kubernetes target with the kubeconfig saved by ``up``.

Heavy imports (pulumi, boto3, lightkube) happen when a method runs, never when this module is imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from inferctl.aws_sdk import require_aws_extra
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import InferctlError, NotFoundError, OperationError, UserError
from inferctl.home import Home, write_secret
from inferctl.progress import Reporter
from inferctl.targets.base import (
    Endpoint,
    LogsCapability,
    ModelMetricsCapability,
    NodesCapability,
    PortForwardCapability,
    Target,
)
from inferctl.targets.plans import AwsPlan, PlannedResource
from inferctl.targets.status import AwsStatus
from inferctl.traits import TargetName

if TYPE_CHECKING:
    from inferctl.kube.client import ServerUnreachable
    from inferctl.kube.views import NodesView
    from inferctl.metrics import ModelMetricsRead
    from inferctl.targets.kubernetes import KubernetesTarget

ClientFactory = Callable[[str], Any]
OUTPUTS_FILE = "outputs.json"
KUBECONFIG_FILE = "kubeconfig"


class AwsTarget(Target, LogsCapability, NodesCapability, PortForwardCapability, ModelMetricsCapability):
    name: ClassVar[TargetName] = "aws"

    def __init__(
        self,
        config: PlatformConfig,
        home: Home,
        *,
        assume_yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        clients: ClientFactory | None = None,
        platform_models: Sequence[ModelDeployment] | None = None,
    ) -> None:
        """``clients``: boto3 client factory (tests); the rest as :class:`Target`."""
        super().__init__(config, home, assume_yes=assume_yes, confirm=confirm, platform_models=platform_models)
        self._clients = clients
        self.force_destroy = False  # 'down --platform --force': destroy even when the teardown is incomplete
        self.fetch_egress_ip: Callable[[str], str] | None = None  # tests: the egress-IP lookup's HTTP seam
        self.locate_address: Callable[[str], str | None] | None = None  # tests: this machine's route toward the VPC

    # --- pieces ---------------------------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.home.target_dir(self.config.name, "aws")

    def clients(self) -> ClientFactory:
        """boto3 clients for the config's region, one per service."""
        if self._clients is None:
            from inferctl.aws_sdk import boto3_session

            session = boto3_session(self.config.aws.region, purpose="the aws target")
            cache: dict[str, Any] = {}

            def factory(service: str) -> Any:
                if service not in cache:
                    cache[service] = session.client(service)
                return cache[service]

            self._clients = factory
        return self._clients

    def kubernetes(self, *, include_karpenter: bool) -> KubernetesTarget:
        """The Kubernetes target pointed at this platform's cluster (through the kubeconfig ``up`` saved)."""
        from inferctl.aws.kubeconfig import context_name
        from inferctl.targets.kubernetes import KubernetesTarget

        update: dict[str, Any] = {
            "kubeconfig": str(self.state_dir / KUBECONFIG_FILE),
            "context": context_name(self.config.cluster_name, self.config.aws.region),
        }
        if self.config.kubernetes.model_cache == "pvc" and not self.config.kubernetes.storage_class:
            from inferctl.aws.storage_names import MODEL_CACHE_STORAGE_CLASS

            update["storage_class"] = MODEL_CACHE_STORAGE_CLASS  # the gp3 class the program creates for it
        settings = self.config.kubernetes.model_copy(update=update)
        config_update: dict[str, Any] = {"kubernetes": settings}
        bucket = (self.saved_outputs() or {}).get("model_cache_bucket")
        if bucket and not self.config.cache.bucket:  # the name Pulumi generated for the S3 model cache
            config_update["cache"] = self.config.cache.model_copy(update={"bucket": bucket})
        config = self.config.model_copy(update=config_update)
        return KubernetesTarget(
            config, self.home, include_karpenter=include_karpenter, platform_models=self.platform_models
        )

    def saved_outputs(self) -> dict[str, Any] | None:
        """The stack outputs ``up`` saved (cluster name, endpoint, region...), or None."""
        path = self.state_dir / OUTPUTS_FILE
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def save_outputs(self, outputs: dict[str, Any]) -> None:
        """Save the stack outputs and a kubeconfig built here (never the stack's own: its exec credential names
        the Python of whichever machine last ran the program)."""
        from inferctl.aws.kubeconfig import local_kubeconfig

        self.home.ensure(self.state_dir)
        kubeconfig = local_kubeconfig(outputs, self.config.cluster_name, self.config.aws.region)
        if kubeconfig:
            write_secret(self.state_dir / KUBECONFIG_FILE, kubeconfig)  # owner-only, as kubectl expects
        public = {k: v for k, v in outputs.items() if k != "kubeconfig"}
        (self.state_dir / OUTPUTS_FILE).write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")

    def forget_outputs(self) -> None:
        for name in (OUTPUTS_FILE, KUBECONFIG_FILE):
            (self.state_dir / name).unlink(missing_ok=True)

    def require_outputs(self) -> dict[str, Any]:
        outputs = self.saved_outputs()
        if outputs is None:
            raise NotFoundError(
                f"no AWS platform {self.config.name!r} was brought up from this machine (nothing in "
                f"{self.state_dir}); run 'inferctl up --target aws'"
            )
        return outputs

    # --- lifecycle -----------------------------------------------------------------------------------------

    def plan(self) -> AwsPlan:
        """Placements, the Kubernetes objects and every AWS resource ``up`` creates (the program under Pulumi's
        mocks: no AWS call)."""
        require_aws_extra("planning the aws target")
        from inferctl.aws.offline import offline_plan

        workload = self.kubernetes(include_karpenter=False).plan()
        infrastructure = offline_plan(self.deployer_config())
        # Type and name only: the properties of every resource are 'inferctl plan --offline --output json'.
        resources = [PlannedResource(r["type"], r["name"]) for r in infrastructure.pop("resources")]
        return AwsPlan(infrastructure, workload, resources)

    def deployer_config(self) -> PlatformConfig:
        """The config with the public endpoint limited to this machine's egress /32 when it can be told now
        (``plan`` shows the block ``up`` will allow); unchanged, with the placeholder, when it cannot."""
        from inferctl.aws.endpoint_access import detect_egress_ip, is_public, with_public_cidrs

        if not is_public(self.config) or self.config.aws.public_access_cidrs:
            return self.config
        try:
            fetch = self.fetch_egress_ip
            cidr = detect_egress_ip(fetch) if fetch is not None else detect_egress_ip()
        except OperationError:
            return self.config
        return with_public_cidrs(self.config, [cidr])

    def up(self, reporter: Reporter) -> list[Endpoint]:
        from inferctl.aws import stack
        from inferctl.aws.endpoint_access import access_summary, with_private_cidrs, with_public_cidrs
        from inferctl.aws.preflight import instance_demand, pulumi_path_from, run_preflight
        from inferctl.render import check_platform

        require_aws_extra("'up --target aws'")
        models = self.kubernetes(include_karpenter=False)
        models.secret_values()  # a gated model without HF_TOKEN fails now, not after 20 minutes of provisioning
        reporter.phase("sizing")
        placements = models.placements()
        check_platform(self.config, placements)  # a config the models' apply would refuse: before the cluster bills
        # The gate: every check passes or nothing is created.
        report = run_preflight(
            self.config,
            instance_demand(self.config, placements),
            clients=self.clients(),
            home=self.home,
            assume_yes=self.assume_yes,
            confirm=self.confirm,
            reporter=reporter,
            fetch_egress_ip=self.fetch_egress_ip,
            locate_address=self.locate_address,
        )
        for check in report.checks:
            if check.status == "warn":
                reporter.warn(check.detail)
            elif check.status == "fixed":
                reporter.info(check.detail)
        report.raise_for_failures()
        pulumi_path = pulumi_path_from(report)
        assert pulumi_path is not None  # raise_for_failures passed, so the pulumi check did
        # The stack is the whole platform's, also when this up deploys one model (--model): a bucket or role the
        # other models use stays.
        whole = self.platform_config()
        deployed = with_private_cidrs(with_public_cidrs(whole, report.deployer_cidrs), report.private_cidrs)
        reporter.info(f"API endpoint: {access_summary(deployed)}")
        outputs = stack.deploy(deployed, self.home, pulumi_path, reporter)
        self.save_outputs(outputs)
        reporter.info(f"cluster {outputs.get('cluster_name')} ready at {outputs.get('endpoint')}")
        models = self.kubernetes(include_karpenter=False)  # again: now with the outputs (the cache bucket's name)
        return models.up(reporter)

    def down(self, reporter: Reporter, *, platform: bool = False) -> None:
        """Models (and with ``platform`` the Karpenter pools, then the cluster). ``pulumi destroy`` runs only after
        the Kubernetes teardown left nothing that holds AWS resources Pulumi does not track (``force_destroy``
        overrides); the leftover scan runs whatever destroy did."""
        from inferctl.aws import stack
        from inferctl.aws.endpoint_access import DESTROY_CIDR_PLACEHOLDER, with_public_cidrs
        from inferctl.kube.client import ServerUnreachable

        if platform:
            require_aws_extra("'down --target aws --platform'")
        outputs = self.saved_outputs()
        pulumi_path = None
        if outputs is None and platform:
            # Not brought up from here (or up stopped early): the stack's own outputs still reach the cluster.
            pulumi_path = stack.ensure_pulumi(self.home, assume_yes=self.assume_yes, confirm=self.confirm)
            recovered = stack.read_outputs(self.config, self.home, pulumi_path)
            if recovered and (recovered.get("kubeconfig") or recovered.get("certificate_authority")):
                self.save_outputs(recovered)  # the kubeconfig is rebuilt here, for this machine
                outputs = recovered
        if outputs is not None:
            kube = self.kubernetes(include_karpenter=platform)
            if not platform:
                try:
                    kube.down(reporter, platform=False)
                except ServerUnreachable as exc:
                    raise self._unreachable(exc, "down --target aws") from None
                return
            self._teardown_or_refuse(kube, reporter)
        elif not platform:
            reporter.info(f"no AWS platform {self.config.name!r} from this machine: nothing to remove")
            return
        if pulumi_path is None:
            pulumi_path = stack.ensure_pulumi(self.home, assume_yes=self.assume_yes, confirm=self.confirm)
        destroyed = False
        try:
            # destroy runs the program only for its providers and creates nothing: the endpoint's blocks are moot.
            config = with_public_cidrs(self.config, [DESTROY_CIDR_PLACEHOLDER])
            stack.destroy(config, self.home, pulumi_path, reporter)
            self.forget_outputs()
            destroyed = True
        finally:
            # Also when destroy failed: what is left and still billing is what the user needs to know then.
            self._report_leftovers(reporter, raise_if_found=destroyed)

    def _teardown_or_refuse(self, kube: KubernetesTarget, reporter: Reporter) -> None:
        """The Kubernetes teardown, then proof it is complete; OperationError (nothing destroyed) when it is not.

        Destroying with a LoadBalancer Service still present removes the controller that would delete its NLB:
        the NLB is orphaned and bills, and the VPC's deletion then fails (DependencyViolation).
        """
        from inferctl.aws.teardown import remaining_on_cluster
        from inferctl.kube.client import ServerUnreachable

        problems: list[str] = []
        try:
            kube.down(reporter, platform=True)
        except ServerUnreachable as exc:  # --force cannot help: destroy needs the endpoint too (its providers)
            raise self._unreachable(exc, "down --target aws --platform") from None
        except InferctlError as exc:
            problems.append(f"teardown: {exc.message}")
        try:
            problems += remaining_on_cluster(kube.client(), self.config.name)
        except InferctlError as exc:
            problems.append(f"cannot list what remains on the cluster: {exc.message}")
        if not problems:
            return
        if self.force_destroy:
            for problem in problems:
                reporter.warn(f"{problem} (--force: destroying anyway)")
            return
        raise OperationError(
            "Kubernetes teardown is incomplete, so nothing was destroyed: what remains holds AWS resources Pulumi "
            "does not track (an NLB, Karpenter nodes). Remove it and re-run 'inferctl down --target aws --platform', "
            "or add --force to destroy anyway and delete leftovers by hand",
            details=problems,
        )

    def _unreachable(self, exc: ServerUnreachable, command: str) -> UserError:
        """Why the cluster's API endpoint does not answer from here, when AWS can tell: its public endpoint's
        allowed blocks (EKS DescribeCluster, ``resourcesVpcConfig.publicAccessCidrs``) leave out this machine's
        egress address (it changed since 'up'), or the endpoint is private only. Else the client's own line."""
        from inferctl.aws.endpoint_access import detect_egress_ip, within

        try:
            cluster = self.clients()("eks").describe_cluster(name=self.config.cluster_name)["cluster"]
        except Exception:  # no credentials, no permission, no network: the client's own line still says enough
            return exc
        vpc = cluster.get("resourcesVpcConfig", {})
        nothing = "nothing was changed or destroyed"
        if not vpc.get("endpointPublicAccess"):
            cidrs = self.config.aws.private_access_cidrs
            admitted = (
                f"from an address in aws.private_access_cidrs ({', '.join(cidrs)})"
                if cidrs
                else "from the machine that last ran 'up' (the endpoint admits its address; 'up' from another "
                "machine there admits that one instead)"
            )
            return UserError(
                f"cannot reach the cluster's API endpoint, which is private: run 'inferctl {command}' inside "
                f"{vpc.get('vpcId')} or a network routed to it, {admitted}; {nothing}"
            )
        allowed = [str(c) for c in vpc.get("publicAccessCidrs", [])]
        try:
            fetch = self.fetch_egress_ip
            address = (detect_egress_ip(fetch) if fetch is not None else detect_egress_ip()).removesuffix("/32")
        except OperationError:
            return exc
        if within(address, allowed):
            return exc
        return UserError(
            f"this machine's address {address} is not among the blocks the cluster's API endpoint admits "
            f"({', '.join(allowed)}): it changed since 'up'. From this address re-run 'inferctl up --target aws' "
            "(it admits the new address), or set aws.public_access_cidrs to a block that includes it and re-run "
            f"'up'; then re-run 'inferctl {command}' ({nothing})"
        )

    def _report_leftovers(self, reporter: Reporter, *, raise_if_found: bool) -> None:
        from inferctl.aws.leftovers import find_leftovers

        reporter.phase("checking for leftovers", "EC2 instances, load balancers and log groups of the cluster")
        try:
            leftovers = find_leftovers(self.clients(), self.config.cluster_name, self.config.aws.region)
        except InferctlError as exc:  # the platform may be gone; only the proof is missing
            reporter.warn(exc.message)
            return
        if not leftovers:
            reporter.info(f"nothing tagged for cluster {self.config.cluster_name} remains")
            return
        for item in leftovers:
            reporter.warn(f"still there: {item.kind} {item.name or item.id} ({item.delete_command})")
        if raise_if_found:
            raise OperationError(
                f"{len(leftovers)} resource(s) of cluster {self.config.cluster_name} remain after destroy and "
                "still cost money; delete them with the commands below",
                details=[item.delete_command for item in leftovers],
            )

    # --- reads ---------------------------------------------------------------------------------------------

    def status(self) -> AwsStatus:
        outputs = self.saved_outputs()
        cluster, region = self.config.cluster_name, self.config.aws.region
        if outputs is None:
            return AwsStatus(self.name, self.config.name, cluster, region, "not deployed")
        from inferctl.aws.cost_now import cost_now

        kube = self.kubernetes(include_karpenter=True)
        return AwsStatus(
            self.name,
            self.config.name,
            cluster,
            region,
            "deployed",
            cluster_status=kube.status(),
            endpoint=outputs.get("endpoint"),
            cost_now=cost_now(self.config, kube.nodes()).to_dict(),
        )

    def endpoints(self) -> list[Endpoint]:
        self.require_outputs()
        return self.kubernetes(include_karpenter=False).endpoints()

    def logs(self, *, model: str | None, follow: bool, tail: int | None) -> Iterator[str]:
        self.require_outputs()
        return self.kubernetes(include_karpenter=False).logs(model=model, follow=follow, tail=tail)

    def nodes(self) -> NodesView:
        self.require_outputs()
        return self.kubernetes(include_karpenter=True).nodes()

    def model_metrics(self) -> ModelMetricsRead:
        self.require_outputs()
        return self.kubernetes(include_karpenter=False).model_metrics()

    def port_forward(
        self, model: str | None = None, *, local_port: int | None = None
    ) -> AbstractContextManager[Endpoint]:
        self.require_outputs()
        return self.kubernetes(include_karpenter=False).port_forward(model, local_port=local_port)


__all__ = ["AwsTarget"]
