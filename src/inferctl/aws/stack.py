"""The Automation API side: one Pulumi stack per platform, its backend, its passphrase, and the pulumi CLI.

State lives in a local file backend under ``<home>/platforms/<name>/aws/state`` unless ``aws.state_backend``
names another (``s3://bucket/prefix`` for a team). Stack secrets are encrypted with a passphrase that inferctl
generates once and keeps beside the state (mode 0600), unless ``PULUMI_CONFIG_PASSPHRASE`` or
``PULUMI_CONFIG_PASSPHRASE_FILE`` is already set; its value is never printed or logged.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.config.models import PlatformConfig
from inferctl.errors import ConflictError, MissingDependencyError, OperationError
from inferctl.home import Home, write_secret
from inferctl.progress import Reporter

if TYPE_CHECKING:
    from pulumi import automation as auto

PROJECT = "inferctl"
PASSPHRASE_FILE = "pulumi-passphrase"
PASSPHRASE_ENVS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
PULUMI_INSTALL_DIR = "pulumi"  # under the inferctl home: <home>/pulumi/bin/pulumi
INSTALL_HINT = (
    "install the pulumi CLI: 'curl -fsSL https://get.pulumi.com | sh' (or 'brew install pulumi/tap/pulumi'), "
    "then re-run"
)
PLUGINS = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}  # plugin -> the SDK whose version it matches
# Slow steps get a word of warning in the progress line.
SLOW = {"aws:eks/cluster:Cluster": "about 10 min", "aws:eks/nodeGroup:NodeGroup": "about 3 min"}

PAST = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "replace": "replaced",
    "create-replacement": "created (replacement)",
    "delete-replaced": "deleted (replaced)",
    "import": "imported",
    "refresh": "refreshed",
}

Confirm = Callable[[str], bool]
Installer = Callable[[Path], None]


def aws_dir(config: PlatformConfig, home: Home) -> Path:
    return home.ensure(home.target_dir(config.name, "aws"))


def backend_url(config: PlatformConfig, home: Home) -> str:
    if config.aws.state_backend:
        return config.aws.state_backend
    return "file://" + str(home.ensure(aws_dir(config, home) / "state"))


def passphrase_env(config: PlatformConfig, home: Home) -> dict[str, str]:
    """The passphrase setting for Pulumi: the user's own if exported, else inferctl's file (created once)."""
    if any(os.environ.get(name) for name in PASSPHRASE_ENVS):
        return {}
    path = aws_dir(config, home) / PASSPHRASE_FILE
    if not path.is_file():
        write_secret(path, secrets.token_urlsafe(32))
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(path)}


# --- the pulumi CLI ------------------------------------------------------------------------------------------------


def find_pulumi(home: Home) -> Path | None:
    """The pulumi CLI inferctl installed into its home, else the one on PATH."""
    own = home.root / PULUMI_INSTALL_DIR / "bin" / "pulumi"
    if own.is_file() and os.access(own, os.X_OK):
        return own
    found = shutil.which("pulumi")
    return Path(found) if found else None


def install_pulumi(root: Path) -> None:
    """Download the pulumi CLI matching the SDK into ``root`` (the Automation API's own installer)."""
    from pulumi import automation as auto

    auto.PulumiCommand.install(root=str(root))


def ensure_pulumi(
    home: Home,
    *,
    assume_yes: bool,
    confirm: Confirm | None,
    installer: Installer = install_pulumi,
) -> Path:
    """The pulumi CLI's path, installing it into the inferctl home after confirmation (or ``--yes``)."""
    found = find_pulumi(home)
    if found is not None:
        return found
    root = home.root / PULUMI_INSTALL_DIR
    question = f"The pulumi CLI is not installed. Download it into {root}?"
    if not assume_yes and not (confirm is not None and confirm(question)):
        raise MissingDependencyError(f"the pulumi CLI is not on PATH; {INSTALL_HINT} (or re-run with --yes)")
    try:
        installer(home.ensure(root))
    except Exception as exc:  # the installer fails in many ways offline: URLError, CalledProcessError, OSError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingDependencyError(f"could not download the pulumi CLI ({reason}); {INSTALL_HINT}") from None
    installed = find_pulumi(home)
    if installed is None:
        raise MissingDependencyError(f"the pulumi CLI installer left no {root / 'bin' / 'pulumi'}; {INSTALL_HINT}")
    return installed


def pulumi_command(path: Path) -> auto.PulumiCommand:
    from pulumi import automation as auto

    try:
        # PulumiCommand wants the install root: the directory holding bin/pulumi.
        return auto.PulumiCommand(root=str(path.parent.parent) if path.parent.name == "bin" else None)
    except auto.InvalidVersionError as exc:
        raise MissingDependencyError(f"{exc}; upgrade the pulumi CLI ({INSTALL_HINT})") from None


# --- progress ------------------------------------------------------------------------------------------------------


class EngineProgress:
    """Turns Pulumi engine events into one live progress line and keeps the error diagnostics."""

    def __init__(self, reporter: Reporter, phase: str) -> None:
        self.reporter = reporter
        self.phase = phase
        self.done: Counter[str] = Counter()
        self.in_flight: dict[str, str] = {}
        self.errors: list[str] = []
        self.started = time.monotonic()

    def __call__(self, event: Any) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            if meta.op.value not in {"same", "read"}:
                self.in_flight[meta.urn] = meta.type
                self._show(started=meta)
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            self.in_flight.pop(meta.urn, None)
            if meta.op.value not in {"same", "read"}:
                self.done[meta.op.value] += 1
                self._show()
        elif event.res_op_failed_event is not None:
            self.in_flight.pop(event.res_op_failed_event.metadata.urn, None)
        elif event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
            message = " ".join(event.diagnostic_event.message.split())
            if message:
                self.errors.append(message)

    def _show(self, started: Any = None) -> None:
        counts = ", ".join(f"{n} {PAST.get(op, op)}" for op, n in self.done.items()) or "starting"
        detail = f"{counts}; {len(self.in_flight)} in progress"
        if started is not None:
            name = started.urn.rsplit("::", 1)[-1]
            slow = SLOW.get(started.type)
            detail += f"; {started.op.value} {name}" + (f" ({slow})" if slow else "")
        self.reporter.phase(self.phase, detail)

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{n} {PAST.get(op, op)}" for op, n in sorted(self.done.items())] or ["no changes"]
        return f"{', '.join(parts)} in {elapsed:.0f}s"


# --- the stack -----------------------------------------------------------------------------------------------------


def open_stack(config: PlatformConfig, home: Home, pulumi_path: Path, *, create: bool) -> auto.Stack | None:
    """The platform's stack (created when ``create``); None when it does not exist and ``create`` is False.
    Only ``up`` (``create``) runs the program's endpoint reachability check."""
    from pulumi import automation as auto

    from inferctl.aws.program import make_program

    project_dir = home.ensure(aws_dir(config, home) / "project")
    options = auto.LocalWorkspaceOptions(
        work_dir=str(project_dir),
        env_vars={**passphrase_env(config, home), "PULUMI_SKIP_UPDATE_CHECK": "true"},
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=backend_url(config, home))
        ),
        secrets_provider="passphrase",
        pulumi_command=pulumi_command(pulumi_path),
    )
    program = make_program(config, check_endpoint=create)
    if create:
        return auto.create_or_select_stack(config.name, project_name=PROJECT, program=program, opts=options)
    try:
        return auto.select_stack(config.name, project_name=PROJECT, program=program, opts=options)
    except auto.StackNotFoundError:
        return None


def install_plugins(stack: auto.Stack) -> None:
    """The resource plugins matching the installed SDKs (Pulumi would fetch them mid-update otherwise)."""
    for plugin, sdk in PLUGINS.items():
        stack.workspace.install_plugin(plugin, f"v{version(sdk)}")


def deploy(config: PlatformConfig, home: Home, pulumi_path: Path, reporter: Reporter) -> dict[str, Any]:
    """``pulumi up`` with live progress; returns the stack outputs as plain values."""
    from pulumi import automation as auto

    reporter.phase("preparing the Pulumi stack", config.name)
    stack = open_stack(config, home, pulumi_path, create=True)
    assert stack is not None
    install_plugins(stack)
    progress = EngineProgress(reporter, "provisioning AWS (pulumi up)")
    try:
        stack.up(on_event=progress, on_output=_discard, color="never", show_secrets=False)
    except auto.ConcurrentUpdateError:
        raise _locked(config) from None
    except auto.CommandError as exc:
        raise _failed("pulumi up", progress, exc, "fix it and re-run 'inferctl up --target aws' (it resumes)") from None
    reporter.info(f"pulumi up: {progress.summary()}")
    return {key: output.value for key, output in stack.outputs().items()}


def destroy(config: PlatformConfig, home: Home, pulumi_path: Path, reporter: Reporter) -> bool:
    """``pulumi destroy`` with live progress; False when there was no stack."""
    from pulumi import automation as auto

    stack = open_stack(config, home, pulumi_path, create=False)
    if stack is None:
        return False
    install_plugins(stack)
    progress = EngineProgress(reporter, "destroying AWS resources (pulumi destroy)")
    try:
        # run_program: providers come from this program (this machine's interpreter for the EKS token), not state.
        stack.destroy(on_event=progress, on_output=_discard, color="never", run_program=True, show_secrets=False)
    except auto.ConcurrentUpdateError:
        raise _locked(config) from None
    except auto.CommandError as exc:
        raise _failed(
            "pulumi destroy", progress, exc, "fix it and re-run 'inferctl down --target aws' (it resumes)"
        ) from None
    reporter.info(f"pulumi destroy: {progress.summary()}")
    return True


def read_outputs(config: PlatformConfig, home: Home, pulumi_path: Path) -> dict[str, Any] | None:
    stack = open_stack(config, home, pulumi_path, create=False)
    if stack is None:
        return None
    return {key: output.value for key, output in stack.outputs().items()}


def _discard(_: str) -> None:
    return None


def _locked(config: PlatformConfig) -> ConflictError:
    return ConflictError(
        f"another pulumi operation is updating stack {config.name!r}; wait for it to finish "
        "(after a crash, 'pulumi cancel' or remove the lock under the state backend's .pulumi/locks)"
    )


def _failed(what: str, progress: EngineProgress, exc: Exception, fix: str) -> OperationError:
    errors = progress.errors or [line for line in str(exc).splitlines() if "error" in line.lower()][-3:]
    first = errors[0] if errors else f"{what} exited with an error"
    return OperationError(f"{what} failed: {first}; {fix}", details=errors[1:])
