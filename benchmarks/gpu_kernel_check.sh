#!/usr/bin/env bash
# A short kernel-development check on a GPU (a fraction of gpu_suite.sh's time): unless
# SKIP_BUILD=1, build the extension and run tests/ops/test_cuda.py; then the probe layers' timings
# and launch-shape sweep (benchmarks/cuda_probe.py) and a few ncu counters of the fused forward
# kernel on two layers. Everything to stdout (after gpu_suite.sh in one call, whose logs fill the
# device tool's 8 returned files: SKIP_BUILD=1).
set -o pipefail
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
# The architecture gpu_suite.sh exported (same cache directory), else the visible GPU's.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  t0=$(date +%s)
  timeout 240 "$PY" -m bandlimit.ops.cuda build 2>&1 | tail -3 || exit 1
  echo "build: $(( $(date +%s) - t0 )) s"
  timeout 150 "$PY" -m pytest -q -p no:cacheprovider -x tests/ops/test_cuda.py 2>&1 | tail -15
fi
timeout 90 "$PY" -m benchmarks.cuda_probe --reps 5
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
MET="gpu__time_duration.sum,smsp__inst_executed.sum,smsp__sass_thread_inst_executed_op_ffma_pred_on.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active"
for c in "T1024 L10_1044_81" "R256 L10_276_512"; do
  echo "== ncu $c"
  timeout 60 "$NCU" --clock-control none --metrics "$MET" -k regex:filtered_act --launch-skip 2 \
    --launch-count 1 "$PY" -m benchmarks.cuda_probe --case "$c" --launches 3 2>&1 \
    | grep -E "filtered_act_kernel|__|ERROR" | sed 's/(const .*//' | cut -c1-150
done
