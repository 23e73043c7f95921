"""docs/troubleshooting.md from the diagnoses ``up`` can print: each upstream signal and the paragraph it produces.

Every case runs the real rule (:mod:`inferctl.kube.diagnose`, :mod:`inferctl.kube.karpenter_state`,
:mod:`inferctl.kube.volume_claims`, :mod:`inferctl.targets.local.logwatch`) on the upstream signal as Karpenter
v1.14.1, the kubelet, Kubernetes' PV controller, a CSI provisioner, vLLM or the HuggingFace hub write it, so the page
quotes what ``up`` prints today. The signals are the test suite's own data (tests/support/karpenter.py,
tests/unit/test_kube_diagnose.py, tests/unit/test_mirror_volume.py, tests/fixtures/vllm_logs), where each names its
upstream file. :func:`check_complete` fails the generator when a diagnosis code exists in the source that no case
shows, or a case names a code the source no longer has.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.docsgen.markdown import fenced, header

REPO = Path(__file__).resolve().parents[2]
RULE_MODULES = (
    "src/inferctl/kube/diagnose.py",
    "src/inferctl/kube/karpenter_state.py",
    "src/inferctl/kube/karpenter_registration.py",
    "src/inferctl/kube/volume_claims.py",
)


@dataclass(frozen=True)
class Case:
    code: str
    title: str
    signal: str  # what the cluster or the server shows (Markdown)
    run: Callable[[], Any]


def generate() -> str:
    sections = _sections()
    check_complete([case for _, _, cases in sections for case in cases])
    out = [
        header("the diagnosis rules in src/inferctl/kube/ and src/inferctl/targets/local/logwatch.py"),
        "# Troubleshooting\n",
        "`inferctl up` does not wait for a timeout when something is wrong: it recognises the failures below, stops "
        "with exit code 1 and prints one paragraph (what failed, the evidence, the fix). Scheduling and node-side "
        "failures count once they have held for a minute, since Karpenter re-plans every few seconds. Each entry "
        "shows the signal `up` reads and the paragraph it prints for it, produced by the real rule from a sample "
        "(model `llama` = `meta-llama/Meta-Llama-3-8B-Instruct` sized to a g5.xlarge, NodePool "
        "`g5-gpu-karpenter`). The code in brackets is the diagnosis' stable name.\n",
    ]
    for title, intro, cases in sections:
        out.append(f"## {title}\n")
        out.append(intro + "\n")
        for case in cases:
            found = case.run()
            if found is None or found.reason != case.code:
                raise AssertionError(f"troubleshooting case {case.code!r} produced {found!r}: fix its sample")
            out.append(f"### {case.title} (`{case.code}`)\n")
            out.append(f"Signal: {case.signal}\n")
            shown = found.message + "".join(f"\n  {line}" for line in found.details)
            out.append(fenced("error: " + shown, "text"))
    out.append(_warnings_section())
    out.append(_local_section())
    return "\n".join(out)


def codes_in_source() -> set[str]:
    """Every diagnosis code the rule modules can return: ``Diagnosis("code", ...)`` calls and the rule tables
    whose rows carry a code (``_POOL_FAILURES``, ``_NODECLASS_SELECTORS``: the second item of each row)."""
    codes: set[str] = set()
    for relative in RULE_MODULES:
        tree = ast.parse((REPO / relative).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Diagnosis" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    codes.add(first.value)
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", "") in ("_POOL_FAILURES", "_NODECLASS_SELECTORS") for t in node.targets
            ):
                for row in getattr(node.value, "elts", []):
                    codes.add(ast.literal_eval(row.elts[1]))
    return codes


def check_complete(cases: list[Case]) -> None:
    shown = {case.code for case in cases}
    source = codes_in_source()
    missing, stale = sorted(source - shown), sorted(shown - source)
    if missing or stale:
        raise AssertionError(
            "docs/troubleshooting.md is out of step with the diagnosis rules: "
            + (f"no case shows {', '.join(missing)} (add one to scripts/docsgen/troubleshooting.py)" if missing else "")
            + ("; " if missing and stale else "")
            + (f"cases name codes the source no longer has: {', '.join(stale)}" if stale else "")
        )


# --- the cases -------------------------------------------------------------------------------------------------


def _sections() -> list[tuple[str, str, list[Case]]]:
    from tests.support import karpenter as k
    from tests.support.kube import BASE_TIME, make_event, make_node, make_nodeclaim, make_nodepool, make_pod, ts
    from tests.support.render import g5_xlarge_placement

    from inferctl.kube import diagnose as d
    from inferctl.kube.karpenter_state import KarpenterState, diagnose_node_side

    ns, pod_name, labels = "inferctl", "llama-6d4cf56db6-x2x9p", {"inferctl.io/model": "llama"}
    placement = g5_xlarge_placement(alternatives=(g5_xlarge_placement(instance_type="g6e.xlarge"),))
    model = d.ModelContext("llama", "meta-llama/Meta-Llama-3-8B-Instruct", gated=True, placement=placement)
    requests = {"cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}

    def crashing(**last: object) -> dict[str, object]:
        return {
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", **last}},
            "restartCount": 3,
        }

    def running(container: dict[str, object], **extra: Any) -> dict[str, Any]:
        return make_pod(pod_name, ns, labels, node="ip-10-0-1-7", phase="Running", container=container, **extra)

    def waiting(reason: str, message: str, **extra: Any) -> dict[str, Any]:
        return running({"state": {"waiting": {"reason": reason, "message": message}}}, **extra)

    def from_log(*lines: str) -> Callable[[], Any]:
        return lambda: d.diagnose_pod(running(crashing()), [], model=model, log_lines=list(lines))

    def pending(unschedulable: str = "0/2 nodes are available") -> dict[str, Any]:
        pod = make_pod(pod_name, ns, labels, requests=requests, unschedulable=unschedulable)
        pod["spec"]["nodeSelector"] = {"karpenter.sh/nodepool": k.GPU_POOL, "kubernetes.io/os": "linux"}
        pod["metadata"]["creationTimestamp"] = ts(0)
        return pod

    def scheduling(message: str, pools: list[dict[str, Any]] | None = None) -> Callable[[], Any]:
        event = k.karpenter_event(pod_name, ns, "FailedScheduling", message)
        return lambda: d.diagnose_pod(pending(), [event], model=model, nodepools=pools or [])

    def node_side(**state: Any) -> Callable[[], Any]:
        return lambda: diagnose_node_side(pending(), KarpenterState(kubernetes_version="1.36", **state), model)

    def with_class(**override: dict[str, Any]) -> dict[str, Any]:
        amis = override.get("AMIsReady", {}).get("status", "True") == "True"
        return {"nodeclasses": [k.make_ec2nodeclass(override=override, amis=amis)]}

    def broken_class(**override: dict[str, Any]) -> Callable[[], Any]:
        return node_side(nodepools=[k.nodepool_with()], **with_class(**override))

    limited_pool = make_nodepool(
        k.GPU_POOL,
        limits={"cpu": "1000", "memory": "4000Gi", "nvidia.com/gpu": "4"},
        resources={"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "4"},
        nodes=4,
    )
    claim = f"{k.GPU_POOL}-x7k2p"
    cond = k.cond
    image = "vllm/vllm-openai:v9.9.9"
    pull_failed = make_event(
        pod_name, ns, "Failed",
        f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image: not found',
        type_="Warning", at=2,
    )  # fmt: skip
    kv_line = (
        "ValueError: To serve at least one request with the models's max seq len (32768), (4.0 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (2.1 GiB). Based on the available memory, the "
        "estimated maximum model length is 17200. Try increasing `gpu_memory_utilization` or decreasing "
        "`max_model_len` when initializing the engine."
    )
    blind_node = make_node("ip-10-0-1-7", "g5.xlarge", nodepool=k.GPU_POOL)
    insufficient = make_event(
        pod_name, ns, "FailedScheduling", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        component="default-scheduler", type_="Warning", at=5,
    )  # fmt: skip
    service = {"metadata": {"name": "llama"}, "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}
    lb_failed = make_event(
        "llama", ns, "FailedDeployModel", "AccessDenied: elasticloadbalancing:CreateLoadBalancer",
        component="service", type_="Warning", kind="Service",
    )  # fmt: skip
    fleet_denied = (
        "Controller isn't authorized to call ec2:CreateFleet: User: arn:aws:sts::111122223333:assumed-role/"
        "genai-karpenter is not authorized to perform: ec2:CreateFleet"
    )
    no_gpu_claim = k.nodeclaim_with(
        claim,
        Initialized=cond(
            "Initialized",
            "Unknown",
            "ResourceNotRegistered",
            'Resource "nvidia.com/gpu" was requested but not registered',
        ),
    )
    no_gpu_claim["status"]["nodeName"] = "ip-10-0-1-7"
    unknown = cond("AMIsReady", "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation")

    server = [
        Case("gated-model", "Gated model: the licence is not accepted",
             "the server log: `GatedRepoError`, `Cannot access gated repo for url ...` (huggingface_hub)",
             from_log("huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: Root=1-66)",
                      "Cannot access gated repo for url https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct/"
                      "resolve/main/config.json.")),
        Case("model-not-found", "A model id that does not exist",
             "the server log: `RepositoryNotFoundError`, `Repository Not Found for url`, "
             "`is not a valid model identifier listed on` (huggingface_hub, transformers)",
             from_log("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: Root=1-6a1b)",
                      "Repository Not Found for url: https://huggingface.co/api/models/meta-llama/"
                      "Meta-Llama-3-8B-Instruc/revision/main.")),
        Case("hub-token", "The hub rejects the token",
             "the server log: `Invalid credentials in Authorization header`, `401 Client Error`, `403 Client Error`",
             from_log("huggingface_hub.errors.HfHubHTTPError: 401 Client Error: Invalid credentials in "
                      "Authorization header")),
        Case("kv-cache", "The KV cache is too small for the context length",
             "the server log: `larger than the available KV cache memory`, `estimated maximum model length is N` "
             "(vLLM)",
             from_log(kv_line)),
        Case("cuda-oom", "CUDA out of memory",
             "the server log: `CUDA out of memory`, `OutOfMemoryError` (torch)",
             from_log("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has 22.1 GiB "
                      "in use")),
        Case("crash", "The server keeps crashing for another reason",
             "container state `CrashLoopBackOff` with none of the log lines above (the last 12 lines are shown)",
             from_log("RuntimeError: Engine core initialization failed. See root cause above.")),
    ]  # fmt: skip
    pods = [
        Case("image-pull", "The image cannot be pulled",
             "container state `ImagePullBackOff` / `InvalidImageName` / `ErrImageNeverPull` and the kubelet's "
             "`Failed` event (`not found`, `unauthorized`, `toomanyrequests`)",
             lambda: d.diagnose_pod(waiting("ImagePullBackOff", f'Back-off pulling image "{image}"', image=image),
                                    [pull_failed], model=model)),
        Case("container-config", "A Secret the pod needs is missing",
             'container state `CreateContainerConfigError`, `secret "hf-secret" not found`',
             lambda: d.diagnose_pod(waiting("CreateContainerConfigError", 'secret "hf-secret" not found'), [],
                                    model=model)),
        Case("container-create", "The runtime cannot create the container (after a minute)",
             "container state `CreateContainerError`; `up` waits a minute first, since it often clears",
             lambda: d.diagnose_pod(waiting("CreateContainerError", "context deadline exceeded"), [], model=model)),
        Case("oom-killed", "OOMKilled: host memory, not GPU memory",
             "last container state `terminated`, reason `OOMKilled`",
             lambda: d.diagnose_pod(running(crashing(reason="OOMKilled", exitCode=137), requests=requests), [],
                                    model=model)),
    ]  # fmt: skip
    scheduling_cases = [
        Case("nodepool-limits", "The NodePool is at its limits",
             f"pod event `FailedScheduling` from `karpenter`: `{k.LIMITS_EXCEEDED.split(';')[0]}` or "
             "`... node limits have been exhausted for nodepool (NodePool=<name>)`",
             scheduling(k.LIMITS_EXCEEDED, [limited_pool])),
        Case("no-instance-type", "No instance type of the pool fits",
             "pod event `FailedScheduling`: `Failed to schedule pod, no instance type met all requirements, "
             "requirements=..., resources=...` and the rest of the `no instance type ...` family (requirements, "
             "resources or offering)",
             scheduling(k.NO_TYPE_MEETS_REQUIREMENTS)),
        Case("no-nodepool", "No NodePool can take the pod",
             "pod event `FailedScheduling`: `nodepool requirements filtered out all available instance types`, "
             "`incompatible requirements, ...`, `did not tolerate taint (taint=...)`",
             scheduling(k.ALL_FILTERED, [make_nodepool(k.GPU_POOL), make_nodepool(k.CPU_POOL)])),
        Case("gpu-not-advertised", "A GPU node without the NVIDIA device plugin",
             "scheduler event `Insufficient nvidia.com/gpu` while a Ready GPU node advertises no `nvidia.com/gpu`; "
             'or NodeClaim `Initialized` Unknown, `ResourceNotRegistered`, `Resource "nvidia.com/gpu" was requested '
             "but not registered`",
             lambda: d.diagnose_gpu_not_advertised(pending(), [insufficient], [blind_node])),
    ]  # fmt: skip
    karpenter = [
        Case("no-nodepool", "No NodePool at all",
             "the cluster's NodePools: none (Karpenter logs `no nodepools found` and publishes no event)",
             node_side()),
        Case("nodeclass-missing", "The EC2NodeClass is missing",
             "NodePool condition `NodeClassReady=False`, reason `NodeClassNotFound`",
             node_side(nodepools=[k.nodepool_with(NodeClassReady=cond(
                 "NodeClassReady", "False", "NodeClassNotFound", "NodeClass not found on cluster"))])),
        Case("nodeclass-not-ready", "The node class is not ready for another reason",
             "NodePool condition `NodeClassReady=False` with the EC2NodeClass's own reason, or a NodeClaim event "
             "`NodeClassNotReady`",
             node_side(nodepools=[k.nodepool_with(NodeClassReady=cond(
                 "NodeClassReady", "False", "UnhealthyDependents", "AMIsReady=False"))])),
        Case("nodeclass-amis", "The AMI alias has no image for the cluster version",
             "EC2NodeClass `AMIsReady` not True and `status.amis` empty (no SSM parameter for "
             "`aws-k8s-<version>[-nvidia]`), or `AMIsReady=False` `AMINotFound`",
             broken_class(AMIsReady=unknown)),
        Case("nodeclass-subnets", "Subnets not tagged for discovery",
             "EC2NodeClass `SubnetsReady=False`, reason `SubnetsNotFound`",
             broken_class(SubnetsReady=cond("SubnetsReady", "False", "SubnetsNotFound",
                                            "SubnetSelector did not match any Subnets"))),
        Case("nodeclass-security-groups", "Security groups not tagged for discovery",
             "EC2NodeClass `SecurityGroupsReady=False`, reason `SecurityGroupsNotFound`",
             broken_class(SecurityGroupsReady=cond("SecurityGroupsReady", "False", "SecurityGroupsNotFound",
                                                   "SecurityGroupSelector did not match any SecurityGroups"))),
        Case("nodeclass-validation", "Karpenter's controller role lacks EC2 permissions",
             "EC2NodeClass `ValidationSucceeded=False`, reason `CreateFleetAuthCheckFailed` (and the other "
             "`...AuthCheckFailed`)",
             broken_class(ValidationSucceeded=cond("ValidationSucceeded", "False", "CreateFleetAuthCheckFailed",
                                                   fleet_denied))),
        Case("nodeclass-instance-profile", "No instance profile for the node role",
             "EC2NodeClass `InstanceProfileReady` not True",
             broken_class(InstanceProfileReady=cond("InstanceProfileReady", "Unknown", "AwaitingReconciliation",
                                                    "object is awaiting reconciliation"))),
        Case("nodepool-invalid", "The NodePool is rejected",
             "NodePool `ValidationSucceeded=False`, reason `NodePoolValidationFailed`",
             node_side(nodepools=[k.nodepool_with(ValidationSucceeded=cond(
                 "ValidationSucceeded", "False", "NodePoolValidationFailed",
                 "invalid value: spec.template.spec.requirements"))], **with_class())),
        Case("node-not-joined", "A node that never joins the cluster",
             "NodeClaim `Launched=True` and `Registered=Unknown` `NodeNotFound` past Karpenter's 15-minute "
             "registration timeout (the node role's access entry or policies, the AMI's user data, security groups)",
             node_side(nodepools=[k.nodepool_with()], **with_class(),
                       nodeclaims=[k.launched_claim(claim, launched_at=-16 * 60)], now=BASE_TIME)),
        Case("nodepool-no-instance-types", "The pool's requirements leave no instance type",
             "NodePool event `NoCompatibleInstanceTypes`",
             node_side(nodepools=[k.nodepool_with()], **with_class(),
                       pool_events=[k.pool_event(k.GPU_POOL, "NoCompatibleInstanceTypes",
                                                 k.NO_COMPATIBLE_INSTANCE_TYPES)])),
        Case("launch-failed", "Karpenter cannot launch the NodeClaim",
             "NodeClaim `Launched` Unknown with a failure reason such as `Unauthorized`",
             node_side(nodepools=[k.nodepool_with()], **with_class(), nodeclaims=[k.nodeclaim_with(
                 claim, Launched=cond("Launched", "Unknown", "Unauthorized",
                                      "User is not authorized to perform this operation because no identity-based "
                                      "policy allows it"))])),
        Case("no-capacity", "No spot or on-demand capacity in these zones",
             "NodeClaim event `InsufficientCapacityError`, `NodeClaim <name> event: insufficient capacity, ...`",
             node_side(nodepools=[k.nodepool_with()], **with_class(),
                       claim_events=[k.nodeclaim_event(claim, "InsufficientCapacityError", k.INSUFFICIENT_CAPACITY)])),
        Case("spot-service-linked-role", "No EC2 spot service-linked role",
             "the same event with `AuthFailure.ServiceLinkedRoleCreationNotPermitted`, or "
             "`Attempted to launch a spot instance but failed due to ...`",
             node_side(nodepools=[k.nodepool_with()], **with_class(),
                       claim_events=[k.nodeclaim_event(f"{k.GPU_POOL}-b9q4d", "InsufficientCapacityError",
                                                       k.SPOT_SLR_ICE),
                                     k.nodeclaim_event(f"{k.GPU_POOL}-b9q4d", "", k.SPOT_SLR_EVENT, at=21)])),
        Case("gpu-not-advertised", "The GPU never registers on the new node",
             'NodeClaim `Initialized` Unknown, `ResourceNotRegistered`, `Resource "nvidia.com/gpu" was requested '
             "but not registered`",
             node_side(nodepools=[k.nodepool_with()], **with_class(), nodeclaims=[no_gpu_claim])),
    ]  # fmt: skip
    balancer = [
        Case("load-balancer-pending", "No controller provisions the load balancer",
             "a Service of type LoadBalancer without an address and without events, after "
             "`kubernetes.load_balancer_timeout_s`",
             lambda: d.diagnose_load_balancer(service, [], waited_s=601, grace_s=600)),
        Case("load-balancer-failed", "The load balancer controller fails",
             "a Warning event on the Service (e.g. `FailedDeployModel`)",
             lambda: d.diagnose_load_balancer(service, [lb_failed], waited_s=601, grace_s=600)),
    ]  # fmt: skip
    mirror = _mirror_volume_cases()
    _ = make_nodeclaim  # the NodeClaim shapes come from nodeclaim_with
    return [
        ("The model server", "Read from the last log lines of a crashing vLLM container (kubernetes and aws).", server),
        ("Pods and containers", "Read from the pod's container states and the kubelet's events.", pods),
        (
            "Scheduling",
            "Read from Karpenter v1.14.1's `FailedScheduling` event on the pod and the scheduler's "
            "events (formats and their upstream files: `src/inferctl/kube/karpenter_messages.py`).",
            scheduling_cases,
        ),
        (
            "Karpenter's NodePools, EC2NodeClasses and NodeClaims",
            "Failures that never reach the pod, read from "
            "Karpenter v1.14.1's objects and NodeClaim events (upstream files: "
            "`src/inferctl/kube/karpenter_state.py`).",
            karpenter,
        ),
        ("The load balancer", "Read from the model's Service and its events.", balancer),
        (
            "The S3 cache's mirror Job",
            "Read from the claim of the Job's download volume and its events while the Job's pod is Pending (a "
            "volume that cannot be made keeps the pod Pending just as a missing node does). A missing or absent "
            "class stops `up` after a minute, a failing or silent provisioner after five.",
            mirror,
        ),
    ]


def _mirror_volume_cases() -> list[Case]:
    from tests.unit import test_mirror_volume as t

    from inferctl.kube.volume_claims import diagnose_claim

    what = f"the mirror Job {t.JOB}"

    def claim(provisioner: str | None = None) -> dict[str, Any]:
        annotations = {"volume.kubernetes.io/storage-provisioner": provisioner} if provisioner else {}
        return {"metadata": {"name": t.CLAIM, "annotations": annotations}, "status": {"phase": "Pending"}}

    def found(events: list[Any], provisioner: str | None = None) -> Callable[[], Any]:
        def run() -> Any:
            wait = diagnose_claim(claim(provisioner), events, what=what)
            return wait.diagnosis if wait else None

        return run

    return [
        Case("volume-class-missing", "`kubernetes.storage_class` names a class the cluster lacks",
             f"the PV controller's Warning `ProvisioningFailed` on the claim, `{t.CLASS_NOT_FOUND}`",
             found([t._event("ProvisioningFailed", t.CLASS_NOT_FOUND, at=1, warning=True)])),
        Case("volume-no-class", "No StorageClass, and no default class in the cluster",
             f"the PV controller's `FailedBinding`, `{t.NO_CLASS}`",
             found([t._event("FailedBinding", t.NO_CLASS, at=1)])),
        Case("volume-provisioning-failed", "The CSI driver fails to create the volume",
             "the provisioner's Warning `ProvisioningFailed` with the driver's error, for five minutes",
             found([t._event("ProvisioningFailed", t.EBS_FAILED, at=1, component=t.EBS_CONTROLLER, warning=True)],
                   t.EBS)),
        Case("volume-provisioner-silent", "No provisioner acts on the claim",
             "the PV controller's `ExternalProvisioning` and nothing from the provisioner, for five minutes",
             found([t._event("ExternalProvisioning", t.EXTERNAL, at=1)], t.EBS)),
    ]  # fmt: skip


def _local_section() -> str:
    from inferctl.errors import InferctlError
    from inferctl.targets.local import logwatch
    from inferctl.targets.local.server import ModelServer
    from inferctl.targets.local.startup import Starting, _raise_start_failure
    from inferctl.targets.local.state import ServerState

    rows = "\n".join(
        f"| {', '.join(f'`{n}`' for n in needles)} | {fix} |"
        for needles, fix in logwatch._HINTS  # the rule table itself is what this section shows
    )
    # The real start-failure path of the local target, on a real vLLM log (a max_model_len the model refuses) and
    # a real process that exited with code 1.
    with tempfile.TemporaryDirectory() as scratch:
        files = ModelServer(Path(scratch) / "servers" / "demo-0")
        files.log_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "tests/fixtures/vllm_logs/max_model_len_too_long.log", files.log_path)
        exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
        exited.wait()
        state = ServerState(
            pid=exited.pid, pgid=exited.pid, host="127.0.0.1", port=0, model="demo", served_model_name="demo",
            source="demo", model_path=scratch, log_path=str(files.log_path), started_at=0.0,
            api_key_required=True,
        )  # fmt: skip
        try:
            _raise_start_failure(Starting(files, state, exited))
        except InferctlError as failed:
            example = "error: " + failed.message + "".join(f"\n  {line}" for line in failed.details)
        else:
            raise AssertionError("the local target did not fail on a log that ends in vLLM's error")
    return (
        "## The local target\n\n"
        "When vLLM exits while `inferctl up` waits for it, `up` stops at once with vLLM's own reason (the last "
        "exception in its log) and a fix, chosen by the first row below whose text appears in the reason (or, when "
        "the reason names none, in the last 40 log lines), then the log lines that say something:\n\n"
        "| the reason or the log contains | the fix `up` names |\n|---|---|\n"
        f"{rows}\n| anything else | see the whole log with 'inferctl logs' |\n\n"
        "For example, a `max_model_len` longer than the model allows (vLLM's log in "
        "`tests/fixtures/vllm_logs/max_model_len_too_long.log`):\n\n" + fenced(example, "text")
    )


def _warnings_section() -> str:
    """What ``up`` reports once and keeps waiting through: Karpenter is still working on these."""
    from tests.support import karpenter as k
    from tests.support.kube import BASE_TIME

    from inferctl.kube import karpenter_registration as r

    claim = k.launched_claim(f"{k.GPU_POOL}-x7k2p", launched_at=-6 * 60)
    slow = r.join_warning(claim, BASE_TIME, "genai-karpenter-node")
    failing = k.nodepool_with(
        NodeRegistrationHealthy=k.registration_health("False", ("RegistrationFailed", "Failed to register node"))
    )
    health = r.registration_health(failing, "genai-karpenter-node")
    if slow is None or health is None:
        raise AssertionError("the warning samples no longer produce a warning: fix them")
    return (
        "## Warnings: `up` keeps waiting\n\n"
        "Some states are reported once, not as a stop, because Karpenter is still working on them.\n\n"
        "### A node slow to join\n\n"
        "Signal: a NodeClaim `Launched=True` whose `Registered` is still `Unknown` five minutes after launch\n\n"
        + fenced("warning: " + slow, "text")
        + "\n### NodePool `NodeRegistrationHealthy=False`\n\n"
        "Signal: the NodePool's `NodeRegistrationHealthy` condition is False (at least 2 of its last 4 NodeClaims "
        "failed); it is not part of the pool's `Ready`, so Karpenter keeps launching\n\n"
        + fenced("warning: " + health, "text")
    )
