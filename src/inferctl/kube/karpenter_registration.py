"""Whether Karpenter's nodes join the cluster: a NodeClaim whose node never registers, and a NodePool's
``NodeRegistrationHealthy`` condition, read for what they are (pure functions, no I/O).

Upstream facts, kubernetes-sigs/karpenter at tag v1.14.1 (no code copied):

- ``pkg/apis/v1/nodepool_status.go``: a NodePool's ``Ready`` depends on ``ValidationSucceeded`` and
  ``NodeClassReady`` only. ``NodeRegistrationHealthy`` is not one of them, and
  ``pkg/controllers/provisioning/provisioner.go`` skips only pools that are not ``Ready``: a pool whose registration
  health is False keeps getting NodeClaims. It is not a reason to stop ``up``.
- ``pkg/controllers/nodeclaim/lifecycle/liveness.go``: a NodeClaim not ``Launched`` 5 minutes after its
  ``Launched`` condition last changed (``LaunchTimeout``), or not ``Registered`` 15 minutes after its
  ``Registered`` condition last changed (``registrationTimeout``), is deleted; Karpenter then makes another. Each such
  failure is recorded for the pool; the pool's ``NodeRegistrationHealthy`` turns False (reason
  ``RegistrationFailed``, message ``Failed to register node`` when the claim had launched, else the ``Launched``
  condition's own reason and message) once the recorded outcomes are unhealthy.
- ``pkg/state/nodepoolhealth/tracker.go``: the outcomes are a ring of the last 4 (``BufferSize``); unhealthy when
  failures are at least half of 4 (``ThresholdFalse`` 0.5), i.e. 2 failures. ``registration.go``
  (``updateNodePoolRegistrationHealth``) sets it True again only when a successful registration leaves the ring
  healthy: with 2 or more failures in it, that takes 3 registrations in a row (``pkg/utils/ringbuffer/buffer.go``
  overwrites the oldest entry).
- ``pkg/controllers/nodepool/registrationhealth/controller.go``: the condition goes back to Unknown (ring emptied)
  when the NodePool's generation, or its NodeClass's generation, differs from the one it last saw. Fixing IAM or an
  access entry changes neither, so the condition can stay False well after the fix.
- ``registration.go``: until its node appears, a NodeClaim's ``Registered`` is Unknown with reason
  ``NodeNotFound``, message ``Node not registered with cluster``. awslabs/operatorpkg ``status/condition_set.go``
  (``For``, ``Set``): conditions start Unknown when the object is made and ``lastTransitionTime`` changes only with
  the status, so ``Registered``'s ``lastTransitionTime`` is the NodeClaim's creation.

What usually keeps a launched node out of an EKS cluster: the EKS user guide, "Troubleshoot problems with Amazon
EKS clusters and nodes", section "Nodes fail to join cluster" (docs.aws.amazon.com/eks/latest/userguide/
troubleshooting.html), and AWS re:Post knowledge center ``eks-nodes-fail-cluster-join``; the node role's policies
are Karpenter v1.14.1's getting-started template's (inferctl.aws.karpenter_reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from inferctl.aws.karpenter_reference import NODE_ROLE_MANAGED_POLICIES
from inferctl.kube.diagnose import Diagnosis
from inferctl.kube.objects import condition, format_age, labels_of, name_of, parse_time
from inferctl.kube_names import KARPENTER_CAPACITY_TYPE, NODE_INSTANCE_TYPE, NODE_ZONE

REGISTRATION_TIMEOUT_S = 15 * 60  # K liveness.go registrationTimeout
# A node joins a minute or two after its instance launches; past this, say what usually keeps it out.
JOIN_SUSPECT_S = 5 * 60
REGISTRATION_WINDOW = 4  # K nodepoolhealth/tracker.go BufferSize
REGISTRATION_FAILURES = 2  # BufferSize x ThresholdFalse
REGISTRATIONS_TO_RECOVER = 3  # successes that leave at most one failure in a window of 4

SPOT_SLR_FIX = (
    "create the EC2 spot service-linked role once per account (aws iam create-service-linked-role "
    "--aws-service-name spot.amazonaws.com; target aws does) or allow only on-demand in pools.gpu.capacity_types"
)


def launch_fix(reason: str) -> str:
    """The fix for a NodeClaim that could not launch, by its ``Launched`` reason (the cloud provider's)."""
    if reason == "SpotSLRCreationFailed":
        return SPOT_SLR_FIX
    if reason in ("Unauthorized", "AMIAuthorizationFailure"):
        return "give Karpenter's controller role the EC2 permissions of its getting-started policy"
    return "read the reason below, fix the pool's EC2NodeClass or the account's limits"


def join_causes(role: str | None) -> str:
    """What usually keeps a launched node from joining, with the node role named when it is known."""
    who = f"the node role {role}" if role else "the node role (the EC2NodeClass's spec.role)"
    policies = ", ".join(NODE_ROLE_MANAGED_POLICIES)
    return (
        f"usually {who} has no EKS access entry of type EC2_LINUX (aws eks list-access-entries --cluster-name "
        f"<cluster>; target aws creates it) or lacks the managed policies Karpenter's getting-started template gives "
        f"it ({policies}); or the AMI's user data does not bootstrap this cluster (a custom spec.userData, or an AMI "
        "of another family than the EC2NodeClass's amiFamily); or the node security group and subnets do not let the "
        "node reach the cluster's API endpoint on 443"
    )


def _seconds(since: str | None, now: datetime | None) -> float | None:
    at = parse_time(since)
    return None if at is None or now is None else (now - at).total_seconds()


def _instance_id(claim: Mapping[str, Any]) -> str | None:
    """``aws:///us-east-1b/i-0abc`` -> ``i-0abc`` (P: the NodeClaim's providerID)."""
    provider_id = str(claim.get("status", {}).get("providerID") or "")
    last = provider_id.rsplit("/", 1)[-1]
    return last if last.startswith("i-") else None


def _where(claim: Mapping[str, Any]) -> str:
    labels = labels_of(claim)
    parts = [labels.get(NODE_INSTANCE_TYPE), labels.get(KARPENTER_CAPACITY_TYPE)]
    what = " ".join(p for p in parts if p) or "instance"
    zone = labels.get(NODE_ZONE)
    return what + (f" in {zone}" if zone else "")


def waiting_to_join(claim: Mapping[str, Any], now: datetime | None) -> float | None:
    """Seconds since ``claim`` launched while its node has not registered (``Launched`` True, ``Registered``
    Unknown); None otherwise or without a clock."""
    launched, registered = condition(claim, "Launched"), condition(claim, "Registered")
    if launched is None or launched.get("status") != "True":
        return None
    if registered is None or registered.get("status") != "Unknown":
        return None
    return _seconds(launched.get("lastTransitionTime"), now)


def _evidence(claim: Mapping[str, Any]) -> tuple[str, ...]:
    registered = condition(claim, "Registered") or {}
    line = f"NodeClaim {name_of(claim)}: Registered=Unknown ({registered.get('reason', '')})"
    if registered.get("message"):
        line += f": {registered['message']}"
    instance = _instance_id(claim)
    console = f"; its boot log: aws ec2 get-console-output --instance-id {instance} --latest" if instance else ""
    return (line + console,)


def join_warning(claim: Mapping[str, Any], now: datetime | None, role: str | None) -> str | None:
    """A warning for a node still not joined :data:`JOIN_SUSPECT_S` after launch, before Karpenter gives up."""
    waited = waiting_to_join(claim, now)
    if waited is None or waited < JOIN_SUSPECT_S:
        return None
    registered = condition(claim, "Registered") or {}
    left = _seconds(registered.get("lastTransitionTime"), now)
    deadline = (
        f"; Karpenter deletes it in about {format_age(REGISTRATION_TIMEOUT_S - left)} if it has not joined by then"
        if left is not None and left < REGISTRATION_TIMEOUT_S
        else ""
    )
    instance = _instance_id(claim)
    return (
        f"NodeClaim {name_of(claim)} ({_where(claim)}) launched {format_age(waited)} ago and its node has not joined "
        f"the cluster (Registered=Unknown {registered.get('reason', '')}){deadline}: {join_causes(role)}"
        + (f" (boot log: aws ec2 get-console-output --instance-id {instance} --latest)" if instance else "")
    )


def not_joined(claim: Mapping[str, Any], pool: str, now: datetime | None, role: str | None) -> Diagnosis | None:
    """A NodeClaim past Karpenter's registration timeout without its node: Karpenter deletes it and launches
    another from the same NodePool and EC2NodeClass, which joins no better; stop and say why."""
    if waiting_to_join(claim, now) is None:
        return None
    registered = condition(claim, "Registered") or {}
    waited = _seconds(registered.get("lastTransitionTime"), now)
    if waited is None or waited < REGISTRATION_TIMEOUT_S:
        return None
    return Diagnosis(
        "node-not-joined",
        f"the node of NodeClaim {name_of(claim)} (NodePool {pool}, {_where(claim)}) never joined the cluster: "
        f"{format_age(waited)} after it was created Karpenter deletes it (registration timeout, 15 minutes) and "
        f"launches another the same way; {join_causes(role)}; fix that and run up again",
        _evidence(claim),
    )


def registration_health(pool: Mapping[str, Any], role: str | None = None) -> str | None:
    """What a NodePool's ``NodeRegistrationHealthy=False`` means, with its reason, or None when it is not False.
    ``role``: the pool's node role, named in the fix when nodes did not join.

    A warning, never a reason to stop: Karpenter keeps launching for the pool (see the module docstring)."""
    cond = condition(pool, "NodeRegistrationHealthy")
    if cond is None or cond.get("status") != "False":
        return None
    reason = str(cond.get("reason") or "")
    message = str(cond.get("message") or "")
    name = name_of(pool)
    if reason == "RegistrationFailed":
        what = f"their nodes launched but did not join within Karpenter's {REGISTRATION_TIMEOUT_S // 60}-minute timeout"
        fix = join_causes(role)
    else:
        what = "they could not launch"
        fix = launch_fix(reason)
    return (
        f"NodePool {name} reports NodeRegistrationHealthy=False ({reason}: {message}): at least "
        f"{REGISTRATION_FAILURES} of its last {REGISTRATION_WINDOW} NodeClaims failed, {what}. Karpenter still "
        f"launches nodes for it, so up keeps waiting; {fix}. The condition stays False after a fix until "
        f"{REGISTRATIONS_TO_RECOVER} nodes in a row join, or the NodePool or its EC2NodeClass changes"
    )


def still_unhealthy(pool: Mapping[str, Any]) -> str | None:
    """After a rollout whose nodes joined: a pool that still reports the earlier failures, and why that is fine."""
    cond = condition(pool, "NodeRegistrationHealthy")
    if cond is None or cond.get("status") != "False":
        return None
    return (
        f"NodePool {name_of(pool)} still reports NodeRegistrationHealthy=False ({cond.get('reason')}) from the "
        f"failures before; its nodes join now. Karpenter sets it True after {REGISTRATIONS_TO_RECOVER} nodes in a "
        "row join, or resets it when the NodePool or its EC2NodeClass changes"
    )


__all__ = [
    "JOIN_SUSPECT_S",
    "REGISTRATION_TIMEOUT_S",
    "SPOT_SLR_FIX",
    "join_causes",
    "join_warning",
    "launch_fix",
    "not_joined",
    "registration_health",
    "still_unhealthy",
    "waiting_to_join",
]
