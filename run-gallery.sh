#!/usr/bin/env bash
# Main job: reproduce every network of the Neural Polytopes paper (Figs. 2-9) as meshes, model
# files and PNG overviews in out/gallery/ (creates .venv on first use).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh gallery
.venv/bin/neuralpoly gallery --out "${1:-out/gallery}"
