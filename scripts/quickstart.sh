#!/usr/bin/env bash
# Set up a fresh machine and run the main job on the embedded defaults (no download needed):
# search NB201 for the best student under 100M multiply-adds with the default fitness
# (--proxy auto: on NB201 the calibrated aggregate whose searches reach its best cells), on the
# 300 CIFAR-10 images embedded in the package. Rerunning it reuses the finished
# run (or continues a killed one) instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=runs/quickstart
job=(search --space nb201 --evaluations 60 --max-flops 100M --seed 0 --out "$out")
if [ -f "$out/run.json" ]; then
  status=0
  .venv/bin/diswot "${job[@]}" --resume || status=$?
  if [ "$status" -ne 2 ]; then exit "$status"; fi
  # exit 2: the run was made with other settings or proxy definitions (an older diswot);
  # keep it for reference and start over
  stale="$out.stale-$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$stale"
  echo "quickstart: kept the run this version cannot continue as $stale; starting a new one" >&2
fi
.venv/bin/diswot "${job[@]}"
