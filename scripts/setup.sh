#!/usr/bin/env bash
# Create .venv and install diswot with its dev tools from this checkout's own files.
# torch is pinned to 2.13.0 in pyproject.toml: newer releases pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
