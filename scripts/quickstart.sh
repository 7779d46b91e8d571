#!/usr/bin/env bash
# Set up a fresh machine and run the main job on the embedded defaults (no download needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/diswot sample --space nb201 --num 5 --seed 0
