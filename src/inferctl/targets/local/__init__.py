"""The local target: one model served by vLLM on this machine."""

from inferctl.targets.local.target import LocalTarget

__all__ = ["LocalTarget"]
