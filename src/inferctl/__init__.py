"""inferctl: a self-hosted, cost-optimized LLM inference platform as code.

The data flows one way: ``config -> sizing -> render -> targets``. Everything left of ``targets`` is pure.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
