#!/usr/bin/env bash
# The GPU checks of bandlimit in one command, on a machine with a GPU and nothing else prepared:
#   1. pick the Python: $PYTHON if set, else .venv/bin/python if present, else a python3 that
#      already has torch (a CUDA image: nothing is installed, the repository goes on
#      PYTHONPATH, so no network is needed), else create .venv and pip install bandlimit[dev]
#   2. build the CUDA extension (python -m bandlimit.ops.cuda build), timed
#   3. pytest: tests/ops/test_cuda.py (the `cuda`-marked tests: GPU parity, gradients, fast vs
#      generic kernels, streams, 64-bit indexing, opcheck, torch.compile) and the build tests
#   4. python -m benchmarks.ops --device cuda (StyleGAN3-T 1024 / -R 256, ref vs cuda, roofline,
#      fast vs generic kernel)
#   5. python -m benchmarks.train --device cuda (training throughput, cuda vs ref)
#   6. a short summary table, printed last
# Logs go to $OUT/gpu-suite-<date>/ when $OUT is set (the device tool brings $OUT back), else
# benchmarks/results/gpu-suite-<date>/. Exit status: non-zero if any step failed.
# Environment: PYTHON, MAX_JOBS (default: all cores), STEPS (default "build test bench train":
# a subset splits the suite over several calls), QUICK=1 (3 benchmark repetitions, 3 training
# steps), SKIP_TRAIN=1 (no step 5).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks/results}/gpu-suite-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
  elif python3 -c "import torch, numba, scipy, hypothesis, pytest" 2>/dev/null; then
    PY=python3
  else
    echo "== creating .venv"
    "${PYTHON3:-python3}" -m venv .venv && .venv/bin/python -m pip install -q --upgrade pip \
      && .venv/bin/python -m pip install -q -e '.[dev]' ninja || { echo "install failed"; exit 1; }
    PY=.venv/bin/python
  fi
fi
"$PY" -c "import ninja" 2>/dev/null || command -v ninja >/dev/null \
  || "$PY" -m pip install -q ninja || { echo "ninja is missing and cannot be installed"; exit 1; }
echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

"$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('GPU:', torch.cuda.get_device_name() if ok else None, '| torch', torch.__version__, 'CUDA', torch.version.cuda); sys.exit(0 if ok else 1)" \
  || { echo "no CUDA GPU visible to torch: nothing to do"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv \
  > "$OUT_DIR/nvidia-smi.txt" 2>&1 || true
"$PY" -m bandlimit.ops.cuda info | tee "$OUT_DIR/info.txt"
git rev-parse HEAD > "$OUT_DIR/commit.txt" 2>/dev/null || echo "unknown" > "$OUT_DIR/commit.txt"

step() {  # step NAME LOGFILE CMD...: runs, logs, records status and seconds
  local name=$1 log=$2; shift 2
  echo "== $name"
  local t0=$(date +%s)
  "$@" 2>&1 | tee "$OUT_DIR/$log"
  local rc=${PIPESTATUS[0]}
  echo "$name|$rc|$(( $(date +%s) - t0 ))" >> "$OUT_DIR/steps.txt"
  return $rc
}

export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
touch "$OUT_DIR/steps.txt"
STEPS="${STEPS:-build test bench train}"
[ "${SKIP_TRAIN:-0}" = 1 ] && STEPS="${STEPS/train/}"
has() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
QUICK_BENCH=() TRAIN_STEPS=10
[ "${QUICK:-0}" = 1 ] && QUICK_BENCH=(--quick) TRAIN_STEPS=3
has build && step "build extension" build.log "$PY" -m bandlimit.ops.cuda build
has test && step "pytest (GPU)" pytest.log "$PY" -m pytest tests/ops/test_cuda.py \
  tests/ops/test_cuda_build.py -q -p no:cacheprovider -rs
has bench && step "benchmark" bench.log "$PY" -m benchmarks.ops --device cuda \
  ${QUICK_BENCH[@]+"${QUICK_BENCH[@]}"}
has train && step "train benchmark" train.log "$PY" -m benchmarks.train --device cuda \
  --steps "$TRAIN_STEPS"
# the JSON results too (benchmarks/results/ is not brought back from a lent machine; $OUT is)
cp benchmarks/results/ops-cuda-*.json benchmarks/results/train-cuda-*.json "$OUT_DIR"/ 2>/dev/null

echo
echo "================ bandlimit GPU suite summary ($(cat "$OUT_DIR/commit.txt" 2>/dev/null | cut -c1-12)) ================"
"$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name(), '| torch', torch.__version__)"
printf '%-18s %-8s %s\n' step status seconds
fail=0
while IFS='|' read -r name rc secs; do
  printf '%-18s %-8s %s\n' "$name" "$([ "$rc" = 0 ] && echo ok || echo FAIL)" "$secs"
  [ "$rc" = 0 ] || fail=1
done < "$OUT_DIR/steps.txt"
[ -f "$OUT_DIR/pytest.log" ] && grep -E 'passed|failed' "$OUT_DIR/pytest.log" | tail -1
if [ -f "$OUT_DIR/bench.log" ]; then
  sed -n '/^## Summary/,/^## Fused/p' "$OUT_DIR/bench.log" | grep '^|'
  grep '^KERNELS' "$OUT_DIR/bench.log"
fi
[ -f "$OUT_DIR/train.log" ] && grep -E 'img/s' "$OUT_DIR/train.log"
echo "logs: $OUT_DIR"
exit $fail
