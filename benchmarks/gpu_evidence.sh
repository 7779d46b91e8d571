#!/usr/bin/env bash
# The GPU evidence job (issue 24): one foreground command that ends by itself within its budget.
# Everything is in benchmarks/gpu_evidence.py (stages, planner, sizing); benchmarks/README.md has
# the exact device call. On the device machine, from the repository root, .device-kit carried:
#   bash benchmarks/gpu_evidence.sh --budget-s 500
# CPU smoke run (every stage, tiny sizes, 4 to 5 minutes on 2 busy cores):
#   SMOKE=1 DISWOT_DATA=/work/shared/data PYTHON=/work/main/.venv/bin/python \
#     bash benchmarks/gpu_evidence.sh --out /tmp/evidence
cd "$(dirname "$0")/.." || exit 2
exec "${PYTHON:-python3}" benchmarks/gpu_evidence.py "$@"
