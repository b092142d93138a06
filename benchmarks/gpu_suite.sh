#!/usr/bin/env bash
# The GPU checks of bandlimit in one command, on a machine with a GPU and nothing else prepared:
#   1. create .venv and install bandlimit[dev] + ninja (if .venv is missing)
#   2. build the CUDA extension (python -m bandlimit.ops.cuda build), timed
#   3. pytest -m cuda (GPU parity, gradients, streams, 64-bit indexing, opcheck, torch.compile)
#      plus the build tests
#   4. python -m benchmarks.ops --device cuda (StyleGAN3-T 1024 / -R 256, ref vs cuda, roofline)
#   5. a short summary table, printed last
# Logs go to benchmarks/results/gpu-suite-<date>/. Exit status: non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="benchmarks/results/gpu-suite-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
PY=.venv/bin/python

if [ ! -x "$PY" ]; then
  echo "== creating .venv"
  "${PYTHON:-python3}" -m venv .venv && "$PY" -m pip install -q --upgrade pip \
    && "$PY" -m pip install -q -e '.[dev]' ninja || { echo "install failed"; exit 1; }
fi
"$PY" -m pip show ninja >/dev/null 2>&1 || "$PY" -m pip install -q ninja

"$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('GPU:', torch.cuda.get_device_name() if ok else None, '| torch', torch.__version__, 'CUDA', torch.version.cuda); sys.exit(0 if ok else 1)" \
  || { echo "no CUDA GPU visible to torch: nothing to do"; exit 1; }
"$PY" -m bandlimit.ops.cuda info | tee "$OUT/info.txt"
git rev-parse HEAD > "$OUT/commit.txt" 2>/dev/null || true

step() {  # step NAME LOGFILE CMD...: runs, logs, records status and seconds
  local name=$1 log=$2; shift 2
  echo "== $name"
  local t0=$(date +%s)
  "$@" 2>&1 | tee "$OUT/$log"
  local rc=${PIPESTATUS[0]}
  echo "$name|$rc|$(( $(date +%s) - t0 ))" >> "$OUT/steps.txt"
  return $rc
}

export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
step "build extension" build.log "$PY" -m bandlimit.ops.cuda build
step "pytest -m cuda" pytest.log "$PY" -m pytest -m cuda tests/ops/test_cuda.py \
  tests/ops/test_cuda_build.py -q -p no:cacheprovider -rs
step "benchmark" bench.log "$PY" -m benchmarks.ops --device cuda

echo
echo "================ bandlimit GPU suite summary ($(cat "$OUT/commit.txt" 2>/dev/null | cut -c1-12)) ================"
"$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name())"
printf '%-18s %-8s %s\n' step status seconds
fail=0
while IFS='|' read -r name rc secs; do
  printf '%-18s %-8s %s\n' "$name" "$([ "$rc" = 0 ] && echo ok || echo FAIL)" "$secs"
  [ "$rc" = 0 ] || fail=1
done < "$OUT/steps.txt"
grep -E '^[0-9]+ passed|passed|failed' "$OUT/pytest.log" | tail -1
sed -n '/^## Summary/,/^## Fused/p' "$OUT/bench.log" | grep '^|'
grep '^KERNELS' "$OUT/bench.log"
echo "logs: $OUT"
exit $fail
