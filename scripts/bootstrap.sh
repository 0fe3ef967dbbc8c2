#!/usr/bin/env bash
# Create .venv (Python 3.11, which bpy==5.0.1 needs) and install neuralpoly with the given extras.
# torch==2.13.0 is installed first: it is a local CPU wheel, and an unpinned torch would pull
# several GB of CUDA packages. Re-running is cheap: installs are skipped when nothing changed.
# Usage: scripts/bootstrap.sh EXTRAS      (e.g. "gallery" or "test")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-gallery}"

py="${NEURALPOLY_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py="$cand"; break
    fi
  done
fi
if [ -z "$py" ]; then
  py=python3
  echo "bootstrap: Python 3.11 not found; using $($py --version 2>&1). The Blender (bpy) tests need 3.11 and will be skipped." >&2
fi

if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=".venv/.neuralpoly-$extras-$(cat pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
