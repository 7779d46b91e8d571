#!/usr/bin/env bash
# Every GPU figure the open issues ask for, in one job for a 30-minute GPU lease.
#
# A session with a GPU has about 30 minutes of device time and 10 minutes per command, so this
# runs as ONE detached job (started once, then polled) that writes each result to $OUT as soon
# as it exists, most valuable first:
#   1. kd_throughput.py on the GPU: fp32 vs bf16 vs compiled, group of 8, fraction of bf16 peak;
#   2. the issue-11 clock: a ResNet-56 teacher trained TEACHER_EPOCHS (default 100) epochs on the
#      10,000 shared images, then all 64 resnet-depth students x {vanilla, KD} x 2 seeds,
#      STUDENT_EPOCHS (20) each, timed separately;
#   3. 200 NB201 cells sampled with seed 0, KD from the same teacher (1 seed);
#   4. bench proxies on the resnet-depth table with the trained teacher (the issue-12 study).
#
# Usage on the device machine, from the repository root with ../shared/device-kit copied to
# .device-kit/ (ignored; pass it in `carry`):
#   setsid nohup bash benchmarks/gpu_evidence.sh > $OUT/gpu_evidence.log 2>&1 &
# then poll with `tail $OUT/gpu_evidence.log; ls $OUT` in later commands (the job keeps writing to
# the same folder: give it as OUT_DIR=/root/evidence and copy from there to each call's $OUT).
# SMOKE=1 runs the same steps with tiny settings on a CPU, to check the plumbing:
#   SMOKE=1 DISWOT_DATA=../shared/data OUT_DIR=/tmp/evidence bash benchmarks/gpu_evidence.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${OUT_DIR:-/root/evidence}
mkdir -p "$OUT_DIR"
if [ "${SMOKE:-0}" = 1 ]; then
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
  PY=${PYTHON:-.venv/bin/python}
  DEVICE=cpu TEACHER_EPOCHS=1 STUDENT_EPOCHS=1 TRAIN=500 TEACHER_BATCH=64 ARCHS="--archs 111,333" NB201=2
  THROUGHPUT="--steps 1 --blocks 1 --batch-sizes 32 --group 2" WORKERS=1 BANDS=1
  TRUTH="--gt-column vanilla_accuracy"  # one epoch of KD from a 1-epoch teacher stays at chance
else
  source .device-kit/env.sh
  PY=python3
  DEVICE=cuda TEACHER_EPOCHS=${TEACHER_EPOCHS:-100} STUDENT_EPOCHS=${STUDENT_EPOCHS:-20} TRAIN=10000
  TEACHER_BATCH=256
  ARCHS=--all NB201=${NB201:-200} THROUGHPUT="" WORKERS=${WORKERS:-8}
  TRUTH="--gt-column kd_accuracy --gain-column vanilla_accuracy"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT_DIR/gpu.csv"
fi
DATA=${DISWOT_DATA:?set DISWOT_DATA (env.sh does on the GPU machine)}
W=${WORK_DIR:-$OUT_DIR/work}
mkdir -p "$W"
stamp() { echo "$(date +%s) $*" | tee -a "$OUT_DIR/clock.txt"; }
GT="--dataset cifar10 --data-root $DATA --train-subset $TRAIN --device $DEVICE --eval-every $STUDENT_EPOCHS"

stamp throughput-start
$PY benchmarks/kd_throughput.py $THROUGHPUT --out "$OUT_DIR/kd_throughput_gpu.json"
stamp throughput-end

stamp teacher-start
$PY -m diswot train-teacher --model resnet56 --dataset cifar10 --data-root "$DATA" \
  --train-subset $TRAIN --epochs $TEACHER_EPOCHS --batch-size $TEACHER_BATCH --device $DEVICE \
  --eval-every $TEACHER_EPOCHS --out "$W/resnet56_cifar10.pt"
stamp teacher-end

stamp resnet-depth-start
$PY -m diswot bench kd-ground-truth --space resnet-depth --teacher "$W/resnet56_cifar10.pt" $ARCHS \
  --seeds 0,1 --vanilla --epochs $STUDENT_EPOCHS --workers $WORKERS --group-size 8 $GT \
  --out "$W/resnet_depth_64_2seeds.csv"
stamp resnet-depth-end
cp "$W/resnet_depth_64_2seeds.csv" "$OUT_DIR/"

stamp nb201-start
$PY -m diswot bench kd-ground-truth --space nb201 --teacher "$W/resnet56_cifar10.pt" \
  --num-archs $NB201 --seed 0 --epochs $STUDENT_EPOCHS --workers $WORKERS --group-size 8 $GT \
  --out "$W/nb201_200_seed0.csv"
stamp nb201-end
cp "$W/nb201_200_seed0.csv" "$OUT_DIR/"

stamp proxies-start
$PY -m diswot bench proxies --space resnet-depth --ground-truth "$OUT_DIR/resnet_depth_64_2seeds.csv" \
  $TRUTH --teacher "$W/resnet56_cifar10.pt" \
  --num-archs all --budget-bands ${BANDS:-4} --dataset cifar10 --data-root "$DATA" --device $DEVICE --no-plots \
  --proxies diswot,diswot_semantic,diswot_relational,kd,nwot,synflow,jacob_cov,zico,zen,params,flops,az_expressivity,az_progressivity,az_trainability,log:synflow+jacob_cov+flops,log:synflow+jacob_cov+zen,log:az_expressivity+az_progressivity+az_trainability+flops,az_progressivity+synflow+flops \
  --out "$OUT_DIR/proxies_vs_kd"
stamp proxies-end
stamp done
