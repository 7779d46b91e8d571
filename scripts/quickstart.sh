#!/usr/bin/env bash
# Set up a fresh machine and run the main job on the embedded defaults (no download needed):
# search NB201 for the student whose DisWOT score against a random-init ResNet-56 teacher is
# best, on the 300 CIFAR-10 images embedded in the package. Rerunning it reuses the finished
# run (or continues a killed one) instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=runs/quickstart
resume=()
if [ -f "$out/run.json" ]; then resume=(--resume); fi
.venv/bin/diswot search --space nb201 --proxy diswot --evaluations 60 --max-flops 100M --seed 0 \
  --out "$out" "${resume[@]}"
