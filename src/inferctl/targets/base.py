"""The Target interface: one small abstract class plus opt-in capability mixins.

A target turns a validated :class:`PlatformConfig` into running model servers and back. Targets never print:
they report progress through a :class:`~inferctl.progress.Reporter` (a module of its own at the bottom, so that
kube/, aws/ and cache/ can report without importing this layer) that the CLI implements with rich. Read results
come back as JSON-able dicts so every read command can offer ``--output json``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from inferctl.progress import Reporter

if TYPE_CHECKING:
    from inferctl.config.models import ModelDeployment, PlatformConfig
    from inferctl.home import Home
    from inferctl.kube.views import NodesView
    from inferctl.metrics import ModelMetricsRead
    from inferctl.targets.plans import TargetPlan
    from inferctl.targets.status import StatusReport
    from inferctl.traits import TargetName


@dataclass(frozen=True)
class Endpoint:
    """Where a model answers: an OpenAI-compatible base URL (ending in ``/v1``)."""

    model: str
    base_url: str
    api_key: str | None
    note: str | None = None

    def to_dict(self, *, show_key: bool = False) -> dict[str, Any]:
        key = None if self.api_key is None else self.api_key if show_key else "(hidden: --show-key)"
        out: dict[str, Any] = {"model": self.model, "base_url": self.base_url, "api_key": key}
        if self.note:
            out["note"] = self.note
        return out


class Target(ABC):
    """One place models run. Subclasses set ``name`` and implement the lifecycle."""

    name: ClassVar[TargetName]

    def __init__(
        self,
        config: PlatformConfig,
        home: Home,
        *,
        assume_yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        platform_models: Sequence[ModelDeployment] | None = None,
    ) -> None:
        """``assume_yes`` / ``confirm``: how to answer a question the target must ask while it works (create a
        service-linked role, install a tool); the CLI sets them from ``--yes`` and its prompt. Unanswered: no.
        ``platform_models``: every model of the platform when ``config.models`` is a selection of them (``up
        --model NAME``); None when ``config.models`` is the whole platform."""
        self.config = config
        self.home = home
        self.assume_yes = assume_yes
        self.confirm = confirm
        self.platform_models = None if platform_models is None else tuple(platform_models)

    def agrees(self, question: str) -> bool:
        """True when ``--yes`` was given or the user answers yes to ``question``."""
        return self.assume_yes or (self.confirm is not None and self.confirm(question))

    def platform_config(self) -> PlatformConfig:
        """``config`` with every model of the platform: the selected ones as ``config`` has them (a source served
        by ``--model`` included), then the others as the file has them. What must stay true of the whole platform
        while one model is deployed (a cluster's gateway, the AWS stack) is built from this."""
        if self.platform_models is None:
            return self.config
        selected = {m.name: m for m in self.config.models}
        models = [selected.pop(m.name, m) for m in self.platform_models] + list(selected.values())
        if [m.name for m in models] == [m.name for m in self.config.models]:
            return self.config
        return self.config.model_copy(update={"models": models})

    @abstractmethod
    def plan(self) -> TargetPlan:
        """What ``up`` would do, as data (:mod:`inferctl.targets.plans`). Creates nothing."""

    @abstractmethod
    def up(self, reporter: Reporter) -> list[Endpoint]:
        """Create or update everything and wait until the models answer."""

    @abstractmethod
    def down(self, reporter: Reporter, *, platform: bool = False) -> None:
        """Remove the models (and with ``platform`` the infrastructure). Safe to re-run."""

    @abstractmethod
    def status(self) -> StatusReport:
        """What runs and how it is: a report per target kind (:mod:`inferctl.targets.status`); ``to_dict()`` is
        the JSON of ``status --output json``."""

    @abstractmethod
    def endpoints(self) -> list[Endpoint]:
        """Endpoints of the running models; raises NotFoundError when nothing runs."""


class LogsCapability(ABC):
    """The target can show the model server's log."""

    @abstractmethod
    def logs(self, *, model: str | None, follow: bool, tail: int | None) -> Iterator[str]:
        """Yield log lines; with ``follow`` keep yielding until interrupted."""


class PortForwardCapability(ABC):
    """The target can reach a model from this machine through a tunnel (``chat --port-forward``)."""

    @abstractmethod
    def port_forward(
        self, model: str | None = None, *, local_port: int | None = None
    ) -> AbstractContextManager[Endpoint]:
        """The model's endpoint on 127.0.0.1 for the duration of the block."""


class NodesCapability(ABC):
    """The target has nodes worth showing (an eks-node-viewer-like view)."""

    @abstractmethod
    def nodes(self) -> NodesView:
        """The nodes, their requests and prices, and the fleet's totals."""


class ModelMetricsCapability(ABC):
    """The target reads vLLM's per-model load from a metrics store (clusters: Prometheus); its ``status`` alone
    does not carry it."""

    @abstractmethod
    def model_metrics(self) -> ModelMetricsRead:
        """Requests running/waiting, KV cache, output tok/s and TTFT per served model, or why there are none."""
