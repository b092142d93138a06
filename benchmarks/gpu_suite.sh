#!/usr/bin/env bash
# The GPU checks of bandlimit in one command, on a machine with a GPU and nothing else prepared:
#   1. pick the Python: $PYTHON if set, else .venv/bin/python if present, else a python3 that
#      already has torch (a CUDA image: nothing is installed, the repository goes on
#      PYTHONPATH, so no network is needed), else create .venv and pip install bandlimit[dev]
#      (only where PyPI is reachable; an offline machine stops at once with the missing modules)
#   2. build the CUDA extension (python -m bandlimit.ops.cuda build --verbose), timed, for the
#      visible GPU's compute capability only (TORCH_CUDA_ARCH_LIST pinned unless SUITE_ARCH set)
#   3. pytest: tests/ops/test_cuda.py (the `cuda`-marked tests: GPU parity, gradients, fast vs
#      generic kernels, streams, 64-bit indexing, opcheck, torch.compile) and the build tests
#   4. python -m benchmarks.ops --device cuda (StyleGAN3-T 1024 / -R 256, ref vs cuda, roofline,
#      fast vs generic kernel, launch plans in strips vs one strip per tile; BigVGAN's
#      Activation1d, cuda vs ref vs alias-free-torch)
#   5. python -m benchmarks.train --device cuda (training throughput, cuda vs ref), then
#      python -m benchmarks.overhead --device cuda (fixed cost per call, tiny inputs) and
#      python -m benchmarks.ref_autograd --device cuda [--impl cuda] (the autograd memory of
#      'ref' and 'cuda', GPU peak, and what recomputing costs)
#   6. benchmarks/gpu_kernel_check.sh SKIP_BUILD=1 (the probe layers' timings, the launch-shape
#      sweep and ncu counters of the fused kernel: where the time goes)
#   7. compute-sanitizer memcheck and racecheck over benchmarks/cuda_sanitize.py (into pytest.log)
#   8. a short summary table, printed last
# Every step runs under `timeout` inside SUITE_BUDGET_S (default 540 s: a lent machine's call is
# killed at its limit, which would lose the summary); a step that would start with less than
# 20 s left is skipped, and steps after a failed build are skipped.
# Logs go to $OUT/gpu-suite-<date>/ when $OUT is set (the device tool brings $OUT back: at most
# 8 files: env.txt (nvidia-smi, info, commit), build/pytest/bench/train/probe logs, the two JSON
# results; the step table stays outside), else benchmarks/results/gpu-suite-<date>/.
# Exit status: non-zero if any step failed (a step skipped for the budget is not a failure; one
# skipped after a failed build follows the build's failure).
# Environment: PYTHON, MAX_JOBS (default: all cores), STEPS (default "build test bench train probe
# sanitize": a subset splits the suite over several calls), QUICK=1 (3 benchmark repetitions, 3
# training steps), SKIP_TRAIN=1 (no step 5), SUITE_BUDGET_S, SUITE_ARCH (e.g. "9.0"), COMMIT.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
T_START=$(date +%s)
STAMP=$(mktemp)  # results files newer than this are this run's
BUDGET=${SUITE_BUDGET_S:-540}
OUT_DIR="${OUT:-benchmarks/results}/gpu-suite-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT_DIR"
ENV_TXT="$OUT_DIR/env.txt"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
  elif python3 -c "import torch" 2>/dev/null; then
    PY=python3
  elif timeout 10 python3 -m pip download --no-deps -q -d "${TMPDIR:-/tmp}" pip >/dev/null 2>&1; then
    echo "== creating .venv"
    "${PYTHON3:-python3}" -m venv .venv && .venv/bin/python -m pip install -q --upgrade pip \
      && .venv/bin/python -m pip install -q -e '.[dev]' ninja || { echo "install failed"; exit 1; }
    PY=.venv/bin/python
  else
    echo "no python3 with torch here and no package index reachable: set PYTHON"; exit 1
  fi
fi
echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
# The interpreter's bin/ (a venv's ninja) on PATH: torch runs `ninja --version`, not `import ninja`.
PYBIN=$("$PY" -c 'import os, sys; print(os.path.join(sys.prefix, "bin"))' 2>/dev/null) \
  && export PATH="$PYBIN:$PATH"
missing=$("$PY" -c "
import importlib.util as u
print(' '.join(m for m in ('pytest', 'hypothesis', 'scipy', 'numpy') if u.find_spec(m) is None))")
[ -n "$missing" ] && echo "WARNING: missing Python modules: $missing (pytest step will fail)"

"$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('GPU:', torch.cuda.get_device_name() if ok else None, '| torch', torch.__version__, 'CUDA', torch.version.cuda); sys.exit(0 if ok else 1)" \
  || { echo "no CUDA GPU visible to torch: nothing to do"; exit 1; }
"$PY" -c "from torch.utils.cpp_extension import is_ninja_available as f; raise SystemExit(not f())" \
  || echo "WARNING: ninja not runnable (torch's is_ninja_available() is False): the build will fail"
# One architecture: the visible GPU's (an image's TORCH_CUDA_ARCH_LIST of many would multiply
# the build time). The same value for every step, so they share one cache directory.
export TORCH_CUDA_ARCH_LIST="${SUITE_ARCH:-$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
{
  echo "commit: ${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
  echo "TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST MAX_JOBS=$MAX_JOBS nproc=$(nproc)"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv 2>&1
  "$PY" -m bandlimit.ops.cuda info 2>&1
} | tee "$ENV_TXT"

STEPS_TXT=$(mktemp)  # the summary's step table (not a returned file: the device tool's 8)
trap 'rm -f "$STAMP" "$STEPS_TXT"' EXIT
: > "$STEPS_TXT"
step() {  # step NAME LOGFILE CAP_S CMD...: runs under timeout, logs, records status and seconds
  local name=$1 log=$2 cap=$3 t0 left rc
  shift 3
  left=$(( BUDGET - ($(date +%s) - T_START) - 15 ))  # 15 s for the summary
  [ "$cap" -gt "$left" ] && cap=$left
  if [ "$cap" -lt 20 ]; then
    echo "== $name: skipped (${left}s of the ${BUDGET}s budget left)"
    echo "$name|SKIP|0" >> "$STEPS_TXT"; return 1
  fi
  echo "== $name (at most ${cap}s)"
  t0=$(date +%s)
  timeout -s INT -k 15 "$cap" "$@" 2>&1 | tee -a "$OUT_DIR/$log"  # (steps may share a log)
  rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && echo "== $name: TIMEOUT after ${cap}s" | tee -a "$OUT_DIR/$log"
  echo "$name|$rc|$(( $(date +%s) - t0 ))" >> "$STEPS_TXT"
  return "$rc"
}
save_json() {  # the newest results file of this run, now (benchmarks/results/ does not come back)
  local f
  f=$(find benchmarks/results -maxdepth 1 -name "$1" -newer "$STAMP" -print0 2>/dev/null \
      | xargs -0r ls -t | head -1)
  [ -n "$f" ] && cp "$f" "$OUT_DIR"/
}

STEPS="${STEPS:-build test bench train probe sanitize}"
[ "${SKIP_TRAIN:-0}" = 1 ] && STEPS="${STEPS/train/}"
has() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
QUICK_BENCH=() TRAIN_STEPS=10
[ "${QUICK:-0}" = 1 ] && QUICK_BENCH=(--quick) TRAIN_STEPS=3
PYTEST_EXTRA=()
"$PY" -c "import pytest_timeout" 2>/dev/null && PYTEST_EXTRA=(--timeout=150 --timeout-method=thread)
# tests/conftest.py's "gpu" profile (no shrinking), where this checkout has it
grep -q '"gpu"' tests/conftest.py && export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-gpu}"

built=1
if has build; then
  step "build extension" build.log 300 "$PY" -m bandlimit.ops.cuda build --verbose || built=0
fi
skip_unbuilt() { echo "== $1: skipped (the build failed)"; echo "$1|SKIP|0" >> "$STEPS_TXT"; }
if has test; then
  if [ $built = 1 ]; then
    step "pytest (GPU)" pytest.log 300 "$PY" -m pytest tests/ops/test_cuda.py \
      tests/ops/test_cuda_build.py -v -p no:cacheprovider -rfEs --durations=15 \
      ${PYTEST_EXTRA[@]+"${PYTEST_EXTRA[@]}"}
  else skip_unbuilt "pytest (GPU)"; fi
fi
if has bench; then
  if [ $built = 1 ]; then
    step "benchmark" bench.log 240 "$PY" -m benchmarks.ops --device cuda \
      ${QUICK_BENCH[@]+"${QUICK_BENCH[@]}"}
    save_json 'ops-cuda-*.json'
  else skip_unbuilt "benchmark"; fi
fi
if has train; then
  if [ $built = 1 ]; then
    # then the fixed cost per call (tiny inputs: host time, launches) and the autograd memory
    # of 'ref' (recomputing vs the composition) and 'cuda' (recomputing u vs the forward writing
    # it; peak on the GPU, and the time of each) in the same log
    step "train benchmark" train.log 180 bash -c '"$0" -m benchmarks.train --device cuda \
      --steps "$1" && "$0" -m benchmarks.overhead --device cuda --rounds 7 --calls 50 \
      && "$0" -m benchmarks.ref_autograd --device cuda --repeat 3 \
      && "$0" -m benchmarks.ref_autograd --device cuda --impl cuda --repeat 3' \
      "$PY" "$TRAIN_STEPS"
    save_json 'train-cuda-*.json'  # (the autograd records' lines are in train.log: 8 files)
  else skip_unbuilt "train benchmark"; fi
fi

if has probe; then
  if [ $built = 1 ]; then
    step "kernel probe" probe.log 200 env SKIP_BUILD=1 PYTHON="$PY" bash benchmarks/gpu_kernel_check.sh
  else skip_unbuilt "kernel probe"; fi
fi

# NVIDIA's compute-sanitizer over benchmarks/cuda_sanitize.py (every kernel family once, small):
# memcheck (out of bounds, misaligned) and racecheck (shared-memory hazards, warps included).
# Last, as it only confirms what the emulation's sanitizers check; its output joins pytest.log
# (the device tool brings back at most 8 files).
if has sanitize; then
  CS=$(command -v compute-sanitizer || ls "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" \
       2>/dev/null)
  if [ $built = 0 ]; then skip_unbuilt "compute-sanitizer"
  elif [ -z "$CS" ]; then
    echo "== compute-sanitizer: not found (skipped)"; echo "compute-sanitizer|SKIP|0" >> "$STEPS_TXT"
  else
    # Without torch's caching allocator, every tensor is its own allocation that memcheck bounds.
    step "compute-sanitizer" pytest.log 150 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 \
      bash -c 'for tool in memcheck racecheck; do
        echo "-- compute-sanitizer --tool $tool"
        "$0" --tool "$tool" --error-exitcode 1 --print-limit 20 "$1" benchmarks/cuda_sanitize.py \
          || exit 1
      done' "$CS" "$PY"
  fi
fi

echo
echo "================ bandlimit GPU suite summary ($(sed -n 's/^commit: //p' "$ENV_TXT" | cut -c1-12)) ================"
grep -m1 '^gpus:' "$ENV_TXT"
printf '%-18s %-8s %s\n' step status seconds
fail=0
while IFS='|' read -r name rc secs; do
  case $rc in 0) st=ok ;; 124) st=TIMEOUT ;; SKIP) st=skipped ;; *) st=FAIL ;; esac
  printf '%-18s %-8s %s\n' "$name" "$st" "$secs"
  case $rc in 0 | SKIP) ;; *) fail=1 ;; esac  # skipped: the build's failure, or the budget
done < "$STEPS_TXT"
[ -f "$OUT_DIR/pytest.log" ] && grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' \
  "$OUT_DIR/pytest.log" | tail -1
[ -f "$OUT_DIR/pytest.log" ] && grep -E '^(-- compute-sanitizer|=+ (ERROR|RACECHECK) SUMMARY)' \
  "$OUT_DIR/pytest.log"
if [ -f "$OUT_DIR/bench.log" ]; then
  sed -n '/^## Summary/,/^## Fused/p' "$OUT_DIR/bench.log" | grep '^|'
  grep -E '^(KERNELS|STRIPS|MMA|BIGVGAN)' "$OUT_DIR/bench.log"
fi
[ -f "$OUT_DIR/train.log" ] && grep -E 'img/s' "$OUT_DIR/train.log"
[ -f "$OUT_DIR/train.log" ] && sed -n '/^# overhead/,/^wrote /p' "$OUT_DIR/train.log" \
  | grep -E '^(Activation1d|filtered_lrelu|CUDA graphs|  (bandlimit|alias|cuda|ref))'
[ -f "$OUT_DIR/train.log" ] && grep -E '\((ref|cuda), recompute vs' "$OUT_DIR/train.log"
[ -f "$OUT_DIR/probe.log" ] && sed -n '/^| case | fwd | fwd+bwd/,/^$/p' "$OUT_DIR/probe.log"
echo "logs: $OUT_DIR ($(find "$OUT_DIR" -type f | wc -l) files), $(( $(date +%s) - T_START )) s"
exit $fail
