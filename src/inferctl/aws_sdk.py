"""The AWS extra's libraries: a check that they are installed, and boto3 sessions whose setup errors are one line.

boto3 and botocore read ``AWS_PROFILE`` and ``~/.aws/config`` when a session or client is made, so a profile that
does not exist (``ProfileNotFound``) or a config file that does not parse fails there, before any AWS call. Every
AWS entry point of inferctl (the aws target, ``--live-prices``, ``inferctl aws token``) goes through these helpers,
so such a mistake, or a missing ``inferctl[aws]``, is one line that names the fix instead of a traceback.
Importing this module imports neither boto3 nor pulumi.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from inferctl.errors import ConfigError, MissingDependencyError

AWS_EXTRA_MODULES = ("boto3", "pulumi", "pulumi_aws", "pulumi_kubernetes")
INSTALL_AWS_EXTRA = "pip install 'inferctl[aws]'"
NO_CREDENTIALS = "no AWS credentials found; run 'aws configure' or 'aws sso login', or export AWS_PROFILE"


def require_aws_extra(purpose: str) -> None:
    """Raise MissingDependencyError naming the install command when a library of ``inferctl[aws]`` is missing."""
    missing = [module for module in AWS_EXTRA_MODULES if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingDependencyError(f"{purpose} needs {', '.join(missing)}: {INSTALL_AWS_EXTRA}")


def setup_error(exc: Exception) -> ConfigError:
    """The one-line error for a botocore failure while reading the AWS configuration (not an AWS answer)."""
    return ConfigError(f"cannot use the AWS configuration ({exc}); fix AWS_PROFILE or ~/.aws/config")


def boto3_session(region: str | None, *, purpose: str) -> Any:
    """A boto3 Session for ``region`` (None: the configured default) from the standard credential chain."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise MissingDependencyError(f"{purpose} needs boto3: {INSTALL_AWS_EXTRA}") from None
    try:
        return boto3.Session(region_name=region)
    except BotoCoreError as exc:
        raise setup_error(exc) from None
