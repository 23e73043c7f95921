"""How long each phase of a model pod's cold start took, from what the cluster already records.

Sources, each a timestamp the system writes itself:

* the pod's ``creationTimestamp`` and its ``PodScheduled`` / ``Ready`` conditions' ``lastTransitionTime``;
* Karpenter's NodeClaim for the pod (named by its ``Nominated`` event): ``creationTimestamp`` and the
  ``Launched`` / ``Registered`` / ``Initialized`` conditions (kubernetes-sigs/karpenter v1.14.1,
  pkg/apis/v1/nodeclaim_status.go);
* the kubelet's ``Pulling`` / ``Pulled`` events on the pod (kubernetes pkg/kubelet/images/image_manager.go,
  reasons from pkg/kubelet/events/event.go). ``Pulled`` means two things there: after a pull, "Successfully pulled
  image %q in %v (%v including waiting). Image size: %v bytes."; for an image the node already has (no pull, no
  ``Pulling`` event), "Container image %q already present on machine", with " and can be accessed by the pod"
  appended when the kubelet's KubeletEnsureSecretPulledImages check ran. Only the first is an image pull; the
  second is its own phase, ``image already on node``;
* the container's ``state.running.startedAt``;
* vLLM 0.32's log: ``Loading weights took %.2f seconds`` (model_executor/model_loader/default_loader.py) and
  ``Model loading took %s GiB memory and %.6f seconds`` (v1/worker/gpu_model_runner.py), stamped by vLLM's
  logger as ``MM-DD HH:MM:SS`` (the container's clock, UTC in the image).

A phase the cluster did not record (no Karpenter, an image already on the node) is left out, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_VLLM_STAMP = re.compile(r"(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")
_WEIGHTS_LINE = re.compile(
    r"Loading weights took ([0-9.]+) seconds|Model loading took \S+ GiB memory and ([0-9.]+) seconds"
)


@dataclass(frozen=True)
class Phase:
    phase: str
    at: datetime
    seconds: float  # since the previous phase

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "at": self.at.isoformat(), "seconds": round(self.seconds, 1)}


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _condition_time(obj: Mapping[str, Any], kind: str) -> datetime | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


# The kubelet's message on a Pulled event for an image the node already holds (image_manager.go, both forms).
ALREADY_PRESENT = "already present on machine"


def _event_time(
    events: Sequence[Mapping[str, Any]], reason: str, *, last: bool, present: bool | None = None
) -> datetime | None:
    """The first (or last) ``reason`` event's time; ``present`` picks Pulled events by whether the image was
    already on the node (None: any)."""
    times = [
        parse_time(e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp"))
        for e in events
        if e.get("reason") == reason
        and (present is None or (ALREADY_PRESENT in str(e.get("message") or "")) == present)
    ]
    found = sorted(t for t in times if t is not None)
    return (found[-1] if last else found[0]) if found else None


def _weights_loaded(lines: Sequence[str], year: int) -> datetime | None:
    for line in lines:
        if _WEIGHTS_LINE.search(line):
            stamp = _VLLM_STAMP.search(line)
            if stamp:
                month, day, hour, minute, second = (int(g) for g in stamp.groups())
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


def pod_timeline(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    nodeclaim: Mapping[str, Any] | None,
    log_lines: Sequence[str],
) -> list[Phase]:
    """The recorded phases of ``pod``'s start, in time order, each with the seconds since the one before."""
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return []
    marks: list[tuple[str, datetime | None]] = [("pod created", created)]
    if nodeclaim is not None:
        marks += [
            ("node requested", parse_time((nodeclaim.get("metadata") or {}).get("creationTimestamp"))),
            ("node launched", _condition_time(nodeclaim, "Launched")),
            ("node registered", _condition_time(nodeclaim, "Registered")),
            ("node initialized", _condition_time(nodeclaim, "Initialized")),
        ]
    started = None
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        started = parse_time(((status.get("state") or {}).get("running") or {}).get("startedAt")) or started
    pulled = _event_time(events, "Pulled", last=True, present=False)
    marks += [
        ("pod scheduled", _condition_time(pod, "PodScheduled")),
        ("image pull started", _event_time(events, "Pulling", last=False)),
        ("image pulled", pulled),
        # A restart finds the image it pulled: that later "already present" is not part of this start.
        ("image already on node", None if pulled else _event_time(events, "Pulled", last=False, present=True)),
        ("container started", started),
        ("weights loaded", _weights_loaded(log_lines, created.year)),
        ("engine ready", _condition_time(pod, "Ready")),
    ]
    present = sorted(((name, at) for name, at in marks if at is not None), key=lambda mark: mark[1])
    phases: list[Phase] = []
    previous = created
    for name, at in present:
        phases.append(Phase(name, at, max((at - previous).total_seconds(), 0.0)))
        previous = at
    return phases


def summarize(phases: Sequence[Phase]) -> str:
    """``pod created -> engine ready 94 s: node launched +38 s, ..., engine ready +12 s``."""
    if not phases:
        return "no timestamps recorded"
    total = (phases[-1].at - phases[0].at).total_seconds()
    steps = ", ".join(f"{p.phase} +{p.seconds:.0f}s" for p in phases[1:])
    return f"{phases[0].phase} -> {phases[-1].phase} in {total:.0f}s: {steps}"
