"""Nodes that do not join, and a NodePool's NodeRegistrationHealthy, as Karpenter v1.14.1 shows them.

Upstream facts (conditions, reasons, messages, timeouts, the health window) are in tests/support/karpenter.py with
their files at kubernetes-sigs/karpenter v1.14.1: pkg/apis/v1/nodepool_status.go (a NodePool's Ready is
ValidationSucceeded + NodeClassReady only), pkg/controllers/nodeclaim/lifecycle/liveness.go (15-minute
registration timeout, RegistrationFailed / the failed launch's reason copied to the pool), registration.go
(Registered Unknown NodeNotFound; True again after healthy registrations), pkg/state/nodepoolhealth/tracker.go
(4 outcomes, False at 2 failures), pkg/controllers/nodepool/registrationhealth/controller.go (reset to Unknown only
on a NodePool or NodeClass generation change).

The rollout scenarios run the real RolloutWatcher and client against tests.support.kube.FakeCluster (no API server
runs here), one scripted frame per poll, on a fake clock whose wall time is the objects' ``ts(0)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferctl.errors import OperationError
from inferctl.kube import karpenter_registration as registration
from inferctl.kube.diagnose import ModelContext
from inferctl.kube.karpenter_state import KarpenterState, diagnose_node_side
from inferctl.kube.rollout import RolloutWatcher, WatchedDeployment, describe_nodeclaim
from tests.support.karpenter import (
    GPU_POOL,
    HEALTH_BUFFER_SIZE,
    HEALTH_THRESHOLD_FALSE,
    NODE_NOT_FOUND,
    NOMINATED,
    REGISTRATION_FAILED,
    REGISTRATION_TIMEOUT_S,
    UNAUTHORIZED,
    cond,
    karpenter_event,
    launched_claim,
    make_ec2nodeclass,
    nodeclaim_with,
    nodepool_with,
    registration_health,
)
from tests.support.kube import (
    BASE_TIME,
    Clock,
    FakeCluster,
    RecordingReporter,
    connect,
    make_deployment,
    make_event,
    make_node,
    make_pod,
    set_rollout,
    ts,
)

NS = "inferctl"
SELECTOR = {"inferctl.io/platform": "genai", "inferctl.io/model": "llama"}
POD = "llama-6d4cf56db6-x2x9p"
CLAIM = f"{GPU_POOL}-x7k2p"  # the one NOMINATED names
GPU_NODE = "ip-10-0-1-23.ec2.internal"
MODEL = ModelContext("llama", "meta-llama/Meta-Llama-3-8B-Instruct", gated=True)
SCHEDULER = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
ROLE = "genai-karpenter-node"  # make_ec2nodeclass's spec.role
Frame = Callable[[FakeCluster], None]


def pending_pod() -> dict[str, Any]:
    pod = make_pod(POD, NS, SELECTOR, requests={"cpu": "3", "nvidia.com/gpu": "1"}, unschedulable=SCHEDULER)
    pod["spec"]["nodeSelector"] = {"karpenter.sh/nodepool": GPU_POOL}
    pod["metadata"]["creationTimestamp"] = ts(0)
    return pod


def waiting(pool: dict[str, Any], *claims: dict[str, Any]) -> Frame:
    """The pod waits for the NodeClaim Karpenter nominated; the pool and claims as given."""

    def frame(fake: FakeCluster) -> None:
        set_rollout(fake, "llama", NS, ready=0)
        fake.put(pending_pod())
        fake.put(make_event(POD, NS, "FailedScheduling", SCHEDULER, component="default-scheduler", type_="Warning"))
        fake.put(karpenter_event(POD, NS, "Nominated", NOMINATED))
        fake.put(make_ec2nodeclass())
        fake.put(pool)
        for claim in claims:
            fake.put(claim)

    return frame


def ready(pool: dict[str, Any], claim: dict[str, Any]) -> Frame:
    def frame(fake: FakeCluster) -> None:
        fake.put(pool)
        fake.put(claim)
        fake.put(make_node(GPU_NODE, "g5.xlarge", nodepool=GPU_POOL, gpus=1))
        fake.put(
            make_pod(
                POD, NS, SELECTOR, node=GPU_NODE, phase="Running", ready=True, container={"state": {"running": {}}}
            )
        )
        set_rollout(fake, "llama", NS, ready=1)

    return frame


def watch(frames: list[Frame], tmp_path: Path, reporter: RecordingReporter, clock: Clock | None = None) -> Clock:
    fake = FakeCluster(namespaces=[NS, "default"])
    fake.put(make_deployment("llama", NS, SELECTOR))
    fake.frames = frames
    clock = clock or Clock()
    RolloutWatcher(connect(fake, tmp_path), reporter, timeout_s=1800, poller=clock.poller(10), gpu_pool=GPU_POOL).wait(
        [WatchedDeployment("llama", MODEL)]
    )
    return clock


# --- the scenario of issue 20: a launch failure turns registration health False, then a fix -------------------


@pytest.mark.parametrize(
    ("reason", "fix"),
    [(UNAUTHORIZED, "controller role"), (REGISTRATION_FAILED, f"the node role {ROLE} has no EKS access entry")],
    ids=["launch-unauthorized", "registration-failed"],
)
def test_after_the_fix_a_pool_still_false_from_earlier_failures_does_not_stop_up(
    tmp_path: Path, reason: tuple[str, str], fix: str
) -> None:
    """Two launches failed Unauthorized (or two nodes never joined): Karpenter put that reason into the pool's
    NodeRegistrationHealthy=False (liveness.go). The user fixed the controller's IAM (or the node role's access entry)
    and runs up again. Nothing bumps the NodePool's or the EC2NodeClass's generation, so the condition stays False,
    but the pool stays Ready and Karpenter launches: the new node joins after 2 minutes and the rollout finishes.
    Before, up stopped at 60 s blaming nodes that do not join, and kept doing so after the fix."""
    pool = nodepool_with(NodeRegistrationHealthy=registration_health("False", reason))
    assert next(c for c in pool["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    requested = nodeclaim_with(CLAIM, Launched=cond("Launched", "Unknown", "AwaitingReconciliation", at=5))
    launching = launched_claim(CLAIM, launched_at=20)
    joined = launched_claim(CLAIM, launched_at=20, node=GPU_NODE)
    frames = [waiting(pool, requested), waiting(pool, requested)]
    frames += [waiting(pool, launching)] * 10  # launched at 20 s, not joined for well past the old 60 s stop
    frames += [ready(pool, joined)]
    reporter = RecordingReporter()
    clock = watch(frames, tmp_path, reporter)
    assert clock.now >= 120  # it waited through what used to be the stop
    text = reporter.text()
    why, message = reason
    assert f"NodePool {GPU_POOL} reports NodeRegistrationHealthy=False ({why}: {message})" in text
    assert "Karpenter still launches nodes for it, so up keeps waiting" in text
    assert fix in text  # the fix of the reason it quotes
    assert "launch but do not join" not in text
    assert len([w for w in reporter.warnings if "NodeRegistrationHealthy" in w]) == 1  # once, not every poll
    assert f"NodePool {GPU_POOL} still reports NodeRegistrationHealthy=False ({why}) from the failures" in text
    assert reporter.phase_names()[-1] == "ready"


def test_before_the_fix_up_stops_on_the_launch_failure_itself_not_on_registration_health() -> None:
    """The same pool while the launch still fails: the current NodeClaim's Launched reason is the diagnosis
    (launch.go), whatever the pool's registration health says."""
    pool = nodepool_with(NodeRegistrationHealthy=registration_health("False", UNAUTHORIZED))
    failing = nodeclaim_with(CLAIM, Launched=cond("Launched", "Unknown", *UNAUTHORIZED, at=5))
    state = KarpenterState(nodepools=[pool], nodeclasses=[make_ec2nodeclass()], nodeclaims=[failing], now=BASE_TIME)
    found = diagnose_node_side(pending_pod(), state, MODEL)
    assert found is not None and found.reason == "launch-failed"
    assert f"cannot launch NodeClaim {CLAIM}" in found.message and UNAUTHORIZED[1] in found.message


def test_registration_health_false_alone_is_no_diagnosis() -> None:
    for reason in (REGISTRATION_FAILED, UNAUTHORIZED):
        pool = nodepool_with(NodeRegistrationHealthy=registration_health("False", reason))
        state = KarpenterState(nodepools=[pool], nodeclasses=[make_ec2nodeclass()], now=BASE_TIME)
        assert diagnose_node_side(pending_pod(), state, MODEL) is None


def test_registration_failed_is_reported_with_what_keeps_nodes_out() -> None:
    pool = nodepool_with(NodeRegistrationHealthy=registration_health("False", REGISTRATION_FAILED))
    note = registration.registration_health(pool)
    assert note is not None
    reason, message = REGISTRATION_FAILED
    assert f"NodeRegistrationHealthy=False ({reason}: {message})" in note
    assert f"at least 2 of its last {HEALTH_BUFFER_SIZE} NodeClaims failed" in note
    assert f"did not join within Karpenter's {REGISTRATION_TIMEOUT_S // 60}-minute timeout" in note
    assert "EKS access entry of type EC2_LINUX" in note and "security group" in note and "user data" in note
    assert registration.registration_health(nodepool_with()) is None
    unknown = nodepool_with(
        NodeRegistrationHealthy=cond("NodeRegistrationHealthy", "Unknown", "AwaitingReconciliation")
    )
    assert registration.registration_health(unknown) is None  # reset by a spec change: nothing to report


def ring_outcomes_to_recover(failures: int) -> int:
    """Successful registrations until the pool is healthy again, per tracker.go's rule on its ring of
    HEALTH_BUFFER_SIZE outcomes (oldest overwritten): unhealthy while failures / size >= threshold."""
    ring = [False] * failures
    successes = 0
    while ring.count(False) / HEALTH_BUFFER_SIZE >= HEALTH_THRESHOLD_FALSE:
        ring = [*ring, True][-HEALTH_BUFFER_SIZE:]
        successes += 1
    return successes


def test_the_numbers_in_the_messages_are_karpenters() -> None:
    assert registration.REGISTRATION_TIMEOUT_S == REGISTRATION_TIMEOUT_S
    assert registration.REGISTRATION_WINDOW == HEALTH_BUFFER_SIZE
    assert int(HEALTH_BUFFER_SIZE * HEALTH_THRESHOLD_FALSE) == registration.REGISTRATION_FAILURES
    # 2 failures (the least that turns it False, and what a restart pre-hydrates) up to a full ring of them.
    assert {ring_outcomes_to_recover(n) for n in range(2, HEALTH_BUFFER_SIZE + 1)} == {
        registration.REGISTRATIONS_TO_RECOVER
    }


# --- a node that never joins ---------------------------------------------------------------------------------


def test_a_node_not_joined_minutes_after_launch_is_a_warning_with_the_usual_causes(tmp_path: Path) -> None:
    pool = nodepool_with()
    claim = launched_claim(CLAIM, launched_at=20)
    frames = [waiting(pool, claim)] * 40  # 400 s: past the 5-minute mark, before Karpenter's 15
    frames += [ready(pool, launched_claim(CLAIM, launched_at=20, node=GPU_NODE))]
    reporter = RecordingReporter()
    watch(frames, tmp_path, reporter)
    (warning,) = [w for w in reporter.warnings if CLAIM in w]
    reason, _ = NODE_NOT_FOUND
    assert f"NodeClaim {CLAIM} (g5.xlarge spot in us-east-1b) launched 5m ago" in warning
    assert f"has not joined the cluster (Registered=Unknown {reason})" in warning
    assert "Karpenter deletes it in about 9m" in warning  # created at 15 s, 15-minute timeout, seen at 320 s
    assert f"the node role {ROLE} has no EKS access entry of type EC2_LINUX" in warning
    assert "aws ec2 get-console-output --instance-id i-0a1b2c3d4e5f67890" in warning
    shown = [detail for _, detail in reporter.phases if "launched 5m ago, node not joined yet" in detail]
    assert shown, "the progress line should say the node has not joined, not just 'launched'"


def test_a_node_not_joined_by_karpenters_registration_timeout_stops_up(tmp_path: Path) -> None:
    """Karpenter deletes the NodeClaim then and launches another from the same NodePool and EC2NodeClass: the
    rollout stops there with the causes, instead of another 15 minutes of 'launched'."""
    claim = launched_claim(CLAIM, launched_at=20)
    reporter, clock = RecordingReporter(), Clock()
    with pytest.raises(OperationError) as caught:
        watch([waiting(nodepool_with(), claim)] * 200, tmp_path, reporter, clock)
    error = caught.value
    # Registered went Unknown at 15 s: stopped at the first poll past 15 minutes, not at the 30-minute timeout.
    assert 15 + REGISTRATION_TIMEOUT_S <= clock.now < 15 + REGISTRATION_TIMEOUT_S + 10
    assert f"the node of NodeClaim {CLAIM} (NodePool {GPU_POOL}, g5.xlarge spot in us-east-1b) never joined" in (
        error.message
    )
    assert "registration timeout, 15 minutes" in error.message and "run up again" in error.message
    reason, message = NODE_NOT_FOUND
    assert error.details[0].startswith(f"NodeClaim {CLAIM}: Registered=Unknown ({reason}): {message}")
    assert len([w for w in reporter.warnings if CLAIM in w]) == 1  # the 5-minute warning came first, once


def test_describe_nodeclaim_says_how_long_a_launched_node_has_not_joined() -> None:
    claim = launched_claim(CLAIM, launched_at=0)
    at = BASE_TIME.replace(minute=7)
    assert describe_nodeclaim(claim) == f"NodeClaim {CLAIM} launched: g5.xlarge spot in us-east-1b"
    assert describe_nodeclaim(claim, at) == (
        f"NodeClaim {CLAIM} launched 7m ago, node not joined yet: g5.xlarge spot in us-east-1b"
    )
    joined = launched_claim(CLAIM, launched_at=0, node=GPU_NODE)
    assert describe_nodeclaim(joined, at).startswith(f"NodeClaim {CLAIM} registered, initialising")
