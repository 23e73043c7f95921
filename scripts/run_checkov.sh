#!/usr/bin/env bash
# Run checkov over rendered manifests with the skips listed in checkov-skips.md.
#   inferctl render --target aws --out manifests && scripts/run_checkov.sh manifests
# checkov comes from $INFERCTL_CHECKOV or .venv-checkov (python3 -m venv .venv-checkov &&
# .venv-checkov/bin/pip install checkov). Here every listed check is skipped on every object; the test suite
# (tests/unit/test_render_checkov.py) scopes the device-plugin and gateway skips to those objects only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:?usage: scripts/run_checkov.sh DIR (the output of inferctl render --out DIR)}"
checkov="${INFERCTL_CHECKOV:-$repo/.venv-checkov/bin/checkov}"
if [[ ! -x "$checkov" ]]; then
  echo "checkov not found at $checkov; install: python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov" >&2
  exit 2
fi
skips="$(grep -oE '^\| *CKV2?_[A-Z0-9_]+' "$repo/checkov-skips.md" | tr -d '| ' | paste -sd, -)"
exec "$checkov" -d "$dir" --framework kubernetes --skip-download --compact --quiet --skip-check "$skips"
