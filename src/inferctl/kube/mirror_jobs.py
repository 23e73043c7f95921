"""Running the mirror Jobs in the cluster and telling why one failed: what ``up`` and ``cache warm`` share.

A Job's pod template is immutable, so a finished Job from an earlier run is deleted before the new one is applied
(the Job is idempotent: it exits at once when the snapshot's manifest is already in the bucket). The wait shows
the mirror's own progress line (its last log line) and turns a failure into one sentence naming the cause
(:mod:`inferctl.cache.mirror_failures`). A pod still Pending is read together with its download volume's claim:
a volume that cannot be made (no such StorageClass, no default class, a failing or absent provisioner) is named,
and stops the wait once it has held (:mod:`inferctl.kube.volume_claims`), instead of passing for a node wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inferctl.cache.mirror_failures import diagnose_mirror
from inferctl.errors import OperationError
from inferctl.kube.volume_claims import SETTLE_S, diagnose_claim, ephemeral_claim_names
from inferctl.kube.wait import ClusterWait
from inferctl.kube_names import ANNOTATION_CACHE_URI, APP_COMPONENT, JOB_NAME_LABEL
from inferctl.render.meta import Object
from inferctl.render.model_cache import MIRROR_COMPONENT


def job_finished(job: Mapping[str, Any]) -> str | None:
    """'Complete' or 'Failed' once the Job controller says so (its status conditions), else None."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return str(condition["type"])
    return None


def _termination(pod: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":  # the kubelet evicts a pod that outgrows its ephemeral storage
        lines.append(f"No space left on device ({status.get('message', 'evicted')})")
    for container in status.get("containerStatuses") or []:
        for state in (container.get("state") or {}, container.get("lastState") or {}):
            message = (state.get("terminated") or {}).get("message")
            if message:
                lines.extend(str(message).splitlines())
    return lines


class MirrorRunner(ClusterWait):
    """Apply the mirror Jobs (with their service accounts and script) and wait until each completes."""

    def run(self, objects: Sequence[Object]) -> None:
        from inferctl.kube.apply import apply_objects

        self._first_seen: dict[tuple[str, str], float] = {}  # (claim, diagnosis) -> when this run first saw it

        jobs = [o for o in objects if o.get("kind") == "Job"]
        for job in jobs:
            self._clear_finished(job["metadata"]["name"])
        apply_objects(self.client, objects, self.reporter)
        for job in jobs:
            self._wait(job)

    def _clear_finished(self, name: str) -> None:
        existing = self.client.get("batch/v1", "Job", name)
        if existing is None or job_finished(existing) is None:
            return  # absent, or still running: applying the same spec again is a no-op
        self.client.delete("batch/v1", "Job", name)
        for pod in self.client.list("v1", "Pod", labels={JOB_NAME_LABEL: name}):
            self.client.delete("v1", "Pod", pod["metadata"]["name"])  # the API orphans a Job's pods by default
        start = self.poller.clock()
        while self.client.get("batch/v1", "Job", name) is not None:
            if self.poller.clock() - start > 120:
                raise OperationError(f"the finished mirror Job {name} is not going away; delete it and re-run")
            self.reporter.phase("mirror", f"removing the finished Job {name}")
            self.poller.pause()

    def _wait(self, job: Object) -> None:
        name = job["metadata"]["name"]
        uri = (job["metadata"].get("annotations") or {}).get(ANNOTATION_CACHE_URI, "the cache")
        start = self.poller.clock()
        while True:
            current = self.client.get("batch/v1", "Job", name)
            if current is None:
                raise OperationError(f"the mirror Job {name} disappeared; re-run 'inferctl cache warm'")
            pods = self.client.list("v1", "Pod", labels={JOB_NAME_LABEL: name})
            state = job_finished(current)
            if state == "Complete":
                self.reporter.info(f"mirrored to {uri} (Job {name})")
                return
            if state == "Failed":
                raise self._failure(name, pods)
            waited = self.poller.clock() - start
            if waited > self.timeout_s:
                raise OperationError(
                    f"the mirror Job {name} did not finish in {self.timeout_s:.0f} s; see 'kubectl logs job/{name}'"
                )
            self.reporter.phase("mirroring", f"{name} ({waited:.0f}s) {self._progress(name, pods)}")
            self.poller.pause()

    def _progress(self, job: str, pods: Sequence[Object]) -> str:
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if running:
            lines = self.client.tail(running[-1]["metadata"]["name"], lines=1)
            return lines[-1][:120] if lines else "starting"
        pending = [p for p in pods if (p.get("status") or {}).get("phase") == "Pending"]
        for pod in pending:
            volume = self._volume_wait(job, pod)
            if volume is not None:
                return volume
        for pod in pending:
            for condition in (pod.get("status") or {}).get("conditions") or []:
                if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                    return "waiting for a CPU node"
        return "starting" if pending else ""

    def _volume_wait(self, job: str, pod: Object) -> str | None:
        """What the pod's download volume waits for, if anything; raises once a volume diagnosis has held."""
        for claim_name in ephemeral_claim_names(pod):
            claim = self.client.get("v1", "PersistentVolumeClaim", claim_name)
            if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
                continue  # the ephemeral volume controller has not made it yet, or it is fine
            events = self.client.list(
                "v1",
                "Event",
                fields={"involvedObject.kind": "PersistentVolumeClaim", "involvedObject.name": claim_name},
            )
            found = diagnose_claim(claim, events, what=f"the mirror Job {job}")
            if found is None:
                continue
            if found.diagnosis is not None:
                first = self._first_seen.setdefault((claim_name, found.diagnosis.reason), self.poller.clock())
                if self.poller.clock() - first >= SETTLE_S[found.diagnosis.reason]:
                    raise found.diagnosis.error()
            return found.progress
        return None

    def _failure(self, name: str, pods: Sequence[Object]) -> OperationError:
        lines: list[str] = []
        for pod in pods:
            lines += _termination(pod)
            lines += self.client.tail(pod["metadata"]["name"], lines=40)
        found = diagnose_mirror(lines)
        if found is None:
            tail = [line for line in lines if line.strip()][-5:]
            return OperationError(
                f"the mirror Job {name} failed; its last lines are below ('kubectl logs job/{name}' for all)",
                details=tail,
            )
        return OperationError(f"the mirror Job {name} failed: {found.cause}; {found.hint}")


def is_mirror_job(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return obj.get("kind") == "Job" and labels.get(APP_COMPONENT) == MIRROR_COMPONENT


def mirror_before_serving(
    runner: MirrorRunner,
    objects: Sequence[Object],
    mirrored: Callable[[str], bool | None],
) -> list[Object]:
    """Run the mirror Jobs whose snapshot is not known to be in the bucket (``mirrored(job name)``), after the
    objects they need (namespace, secrets, service accounts, script) are applied; return what is left to apply
    (the Deployments, other Jobs and later kinds). Jobs for snapshots already mirrored are dropped: nothing to do."""
    from inferctl.render.order import kind_rank

    jobs = [o for o in objects if is_mirror_job(o)]
    rest = [o for o in objects if not is_mirror_job(o)]
    if not jobs:
        return rest
    needed = [job for job in jobs if mirrored(job["metadata"]["name"]) is not True]
    if not needed:
        runner.reporter.info("model cache: every snapshot is already in the bucket")
        return rest
    job_rank = kind_rank("Job")
    first = [o for o in rest if kind_rank(str(o.get("kind"))) < job_rank]
    runner.run([*first, *needed])
    return [o for o in rest if kind_rank(str(o.get("kind"))) >= job_rank]
