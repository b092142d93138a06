#!/usr/bin/env bash
# Hardware-counter profile (ncu) of the fused forward kernel on two probe layers, plus the
# launch-shape sweep of benchmarks/cuda_probe.py. A GPU machine with ncu; logs under $OUT (at most
# 8 files) or /tmp.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
D=${OUT:-/tmp}
# The architecture gpu_suite.sh exported (same cache directory), else the visible GPU's.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
timeout 200 "$PY" -m bandlimit.ops.cuda build > "$D/build.log" 2>&1 || { tail -30 "$D/build.log"; exit 1; }
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
SEC="--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section InstructionStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis"
MET="l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum,smsp__inst_executed.sum,smsp__sass_thread_inst_executed_op_ffma_pred_on.sum,smsp__inst_executed_op_shared_ld.sum,smsp__inst_executed_op_shared_st.sum,sm__cycles_elapsed.avg,smsp__thread_inst_executed_per_inst_executed.ratio"
prof() {  # prof FILE CASE MASKFLAG NCU-ARGS...
  local f=$1 c=$2 m=$3; shift 3
  timeout 100 "$NCU" --clock-control none "$@" -k regex:filtered_act --launch-skip 2 \
    --launch-count 1 "$PY" -m benchmarks.cuda_probe --case "$c" --launches 3 $m > "$D/$f" 2>&1
  echo "== $f: $c $m rc=$?"
}
prof ncu_t.txt "T1024 L10_1044_81" "" $SEC
prof ncu_t_met.txt "T1024 L10_1044_81" "" --metrics "$MET"
prof ncu_t_stall.txt "T1024 L10_1044_81" "" --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio"
prof ncu_tm.txt "T1024 L10_1044_81" "--mask" $SEC
prof ncu_r.txt "R256 L10_276_512" "" $SEC
prof ncu_rm.txt "R256 L10_276_512" "--mask" --metrics "$MET"
timeout 120 "$PY" -m benchmarks.cuda_probe 2>&1 | tee "$D/sweep.txt"
grep -h -E "Duration|Registers Per|Achieved Occ|Theoretical Occ|Issue Slots Busy|Warp Cycles Per Issued|Block Limit|No Eligible|Executed Ipc A|Compute \(SM\) Th|Memory Through|L1/TEX Hit|Shared Memory Config|Dynamic Shared" "$D"/ncu_t.txt "$D"/ncu_r.txt
grep -h -E "bank|inst_executed|cycles|ffma|wavefronts|ratio" "$D"/ncu_t_met.txt "$D"/ncu_rm.txt
grep -h -E "stalled" "$D"/ncu_t_stall.txt | sort -k3 -n -r | head -12
