#!/usr/bin/env bash
# npm run check:slurm: the sweep on a real (single-node) Slurm cluster.
#  1. starts the cluster (scripts/slurm-local.sh; installs Debian's packages first if they are missing),
#  2. submits grids/slurm-check.json as a job array of 3 tasks (scripts/sweep.slurm),
#  3. cancels task 2 once its first cell has saved a partial checkpoint, waits for the rest,
#  4. resubmits the whole array: tasks 0 and 1 find their cells finished, task 2 resumes its cell,
#  5. merges, runs the same grid in one process (npm run sweep, no Slurm), merges that, and
#  6. checks that the two merged tables are identical.
# It stops only the daemons it started, and cancels its own jobs, also when it fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GRID=grids/slurm-check.json
WORK="$ROOT/runs/slurm-check/$(date +%Y%m%d-%H%M%S)"
SLURM_OUT="$WORK/slurm-out"
ARRAY="$WORK/array"
SINGLE="$WORK/single"
LIMIT="${SLURM_CHECK_LIMIT:-900}"   # seconds for the whole check
say() { echo "check:slurm [$(( SECONDS ))s] $*" >&2; }
started=0
jobs_submitted=()
cleanup() {
  local rc=$?
  if [[ ${#jobs_submitted[@]} -gt 0 ]]; then scancel "${jobs_submitted[@]}" 2>/dev/null || true; fi
  [[ $started == 1 ]] && bash scripts/slurm-local.sh stop || true
  if [[ $rc == 0 ]]; then say "PASSED"; else say "FAILED (exit $rc); logs in $WORK"; fi
}
trap cleanup EXIT
deadline() { (( SECONDS < LIMIT )) || { say "over the time limit of ${LIMIT}s"; exit 1; }; }

command -v slurmctld >/dev/null || bash scripts/slurm-local.sh install
bash scripts/slurm-local.sh start
started=1
eval "$(bash scripts/slurm-local.sh env)"
mkdir -p "$SLURM_OUT"

submit() {  # submit the 3-task array; prints the job id
  sbatch --parsable --array=0-2 --output="$SLURM_OUT/%x-%A_%a.out" \
    --export="ALL,GRID=$GRID,OUT=$ARRAY" scripts/sweep.slurm
}
queued() { squeue -h -j "$1" 2>/dev/null | wc -l; }
wait_job() {
  while [[ $(queued "$1") -gt 0 ]]; do deadline; sleep 1; done
}

job=$(submit)
jobs_submitted+=("$job")
say "submitted array job $job (3 tasks, one CPU each)"
partial="$ARRAY/cells/bptt+c-rot30-lr1e-4-seed1.partial.safetensors"
while [[ ! -f "$partial" ]]; do
  deadline
  [[ $(queued "$job") -gt 0 ]] || { say "the array ended before task 2 saved a partial checkpoint"; exit 1; }
  sleep 0.5
done
scancel "${job}_2"
say "cancelled task ${job}_2 part-way (its cell saved $(basename "$partial"))"
wait_job "$job"
grep -h "interrupted at trial" "$SLURM_OUT"/*"${job}_2.out" >&2 || say "(task 2 left no interruption message)"
[[ ! -f "$ARRAY/cells/bptt+c-rot60-lr1e-4-seed1.json" ]] || { say "task 2's second cell should not have run"; exit 1; }

job2=$(submit)
jobs_submitted+=("$job2")
say "resubmitted the array as job $job2"
wait_job "$job2"
grep -h "resuming at trial" "$SLURM_OUT"/*"${job2}_2.out" >&2 || { say "task 2 did not resume its cell"; exit 1; }
node --import tsx cli/sweep.ts merge --grid "$GRID" --out "$ARRAY" --require-complete

say "the same grid in one process (no Slurm)"
node --import tsx cli/sweep.ts run --grid "$GRID" --out "$SINGLE" --workers 2 2>&1 | grep -v "\[" >&2
node --import tsx cli/sweep.ts merge --grid "$GRID" --out "$SINGLE" --require-complete
for f in sweep.csv summary.csv curves.csv; do
  cmp "$ARRAY/$f" "$SINGLE/$f" || { say "$f differs between the Slurm array and the single process"; exit 1; }
done
say "merged tables identical: $(($(wc -l < "$ARRAY/sweep.csv") - 1)) cells, $(($(wc -l < "$ARRAY/curves.csv") - 1)) curve points"
