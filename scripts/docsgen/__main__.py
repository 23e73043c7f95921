"""``python -m scripts.docsgen --write | --check`` (the repository root on sys.path); scripts/docs runs it."""

from __future__ import annotations

import argparse
import sys

from scripts.docsgen import stale_pages, write_pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/docs", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the generated pages")
    mode.add_argument("--check", action="store_true", help="fail when a committed page differs from its generator")
    args = parser.parse_args(argv)
    if args.write:
        changed = write_pages()
        print("\n".join(f"wrote {page}" for page in changed) or "generated pages are up to date")
        return 0
    stale = stale_pages()
    for page in stale:
        print(
            f"error: {page} differs from what its generator writes now; run scripts/docs --write and commit it",
            file=sys.stderr,
        )
    if not stale:
        print("generated pages match their sources")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
