#!/usr/bin/env bash
# Level probes side by side on one GPU: for each candidate table and sample budget, train the default
# recipe from scratch and score it on the dev split (tests/benchmarks/level_probe.py). A table's
# plateau curve (a doubling of the samples gaining < 1 point) costs hours per point on 2 CPU cores;
# the 1.06M policy leaves an H200 mostly idle, so one lease trains every point of it at once.
#
#   bash scripts/device_levels.sh OUT SECONDS TABLE:SAMPLES [TABLE:SAMPLES ...] [-- PROBE OPTIONS]
#   e.g. bash scripts/device_levels.sh out 480 tests/benchmarks/levels_hardmul.yaml:256000 \
#            tests/benchmarks/levels_hardmul.yaml:512000 -- --max_length 512 --dataset_num_proc 2
#
# Each probe runs in OUT/probes/TABLE-SAMPLES/ (its policy in policy/, without the trainer's
# intermediate checkpoints once it finishes) and is stopped after SECONDS, so a lease ends on time;
# the JSON line of a probe that finished goes to result.json, the rest of its output to log, and
# each probe's exit status to stderr (124: stopped at SECONDS). Options after `--` go to every
# probe (level_probe.py passes those it does not know to the training run). Needs what
# scripts/device_check.sh needs; PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PYTHON="${PYTHON:-python3}"
mkdir -p "$1"
out=$(realpath "$1")
limit=$2
shift 2
jobs=()
while [[ $# -gt 0 && "$1" != "--" ]]; do jobs+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
source scripts/ponder_path.sh
export WANDB_MODE="${WANDB_MODE:-offline}" TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

for job in "${jobs[@]}"; do
  table=${job%:*} samples=${job##*:}
  dir="$out/probes/$(basename "$table" .yaml)-$samples"
  mkdir -p "$dir"
  # From its own folder: in the checkout's root, grading workers would import the bare ponder/ there.
  (
    cd "$dir"
    status=0
    timeout "$limit" "$PYTHON" "$repo/tests/benchmarks/level_probe.py" --samples "$samples" \
      --table "$repo/$table" --config "$repo/configs/train/policy.yaml" --output_dir "$dir/policy" \
      "$@" >"$dir/stdout" 2>"$dir/log" || status=$?
    [[ $status -eq 0 ]] && tail -n 1 "$dir/stdout" >"$dir/result.json"
    rm -rf "$dir"/policy/checkpoint-*
    echo "$(basename "$dir"): exit $status" >&2
  ) &
done
wait
