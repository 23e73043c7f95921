"""The local target: every model served by vLLM on this machine, behind one model gateway on loopback."""

from inferctl.targets.local.target import LocalTarget

__all__ = ["LocalTarget"]
