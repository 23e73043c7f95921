"""How long `inferctl --help` and `inferctl status` take (nothing running). Target: <= 0.5 s each.

Usage: python benchmarks/cli_startup.py [--runs N]. Writes benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, timed_run, write_result

TARGET_S = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = shutil.which("inferctl", path=str(Path(sys.executable).parent)) or "inferctl"
    home = tempfile.mkdtemp(prefix="inferctl-bench-home-")
    env = {**os.environ, "INFERCTL_HOME": home}
    results = {}
    for name, argv in {"help": [script, "--help"], "status": [script, "status"]}.items():
        timed_run(argv, env)  # warm the page cache and .pyc files
        times = [timed_run(argv, env) for _ in range(args.runs)]
        results[name] = {"median_s": round(median(times), 3), "min_s": round(min(times), 3),
                         "max_s": round(max(times), 3), "runs": args.runs}  # fmt: skip
        print(f"inferctl {name:7s} median {results[name]['median_s']:.3f} s (min {results[name]['min_s']:.3f})")
    ok = all(r["median_s"] <= TARGET_S for r in results.values())
    path = write_result("cli_startup", {"target_s": TARGET_S, "meets_target": ok, "commands": results})
    print(f"{'meets' if ok else 'MISSES'} the {TARGET_S} s target; wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
