#!/usr/bin/env bash
# Test job: the core's tests and the add-on's tests in real Blender (the bpy module; creates .venv
# on first use). Blender never touches the user's config: BLENDER_USER_RESOURCES is a temp dir.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
export BLENDER_USER_RESOURCES="$(mktemp -d)"
trap 'rm -rf "$BLENDER_USER_RESOURCES"' EXIT
.venv/bin/python -m pytest "$@"
