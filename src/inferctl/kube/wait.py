"""What every wait on the cluster holds: the client it reads with, where its progress goes, how long it may take
and how it polls. Rollout, teardown and the cache's mirror Jobs extend it with what they wait for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferctl.poller import DEFAULT_POLLER, Poller

if TYPE_CHECKING:
    from inferctl.kube.client import KubeClient
    from inferctl.progress import Reporter


class ClusterWait:
    def __init__(
        self,
        client: KubeClient,
        reporter: Reporter,
        *,
        timeout_s: float,
        poller: Poller = DEFAULT_POLLER,
    ) -> None:
        self.client = client
        self.reporter = reporter
        self.timeout_s = timeout_s
        self.poller = poller
