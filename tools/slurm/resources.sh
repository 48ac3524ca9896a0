#!/usr/bin/env bash
# The srun resource options of tools/slurm_train.sh and tools/slurm_test.sh,
# for GPU and CPU partitions alike. Sourced; reads the environment:
#   GPUS            GPUs in all, one task each (default 8); 0 for a CPU job
#   TASKS           processes in all (default GPUS; needed when GPUS=0)
#   GPUS_PER_NODE   GPUs asked of each node (default GPUS, at most 8)
#   TASKS_PER_NODE  processes per node (default GPUS_PER_NODE; a CPU job
#                   leaves the spread to Slurm unless it is set)
#   CPUS_PER_TASK   CPU cores per process (default 5 with GPUs, 1 without)
# and sets the array SRUN_RESOURCES, or exits with a message naming the
# variable at fault.

slurm_error() {
    echo "$(basename "$0"): $*" >&2
    exit 2
}

GPUS=${GPUS:-8}
[[ "$GPUS" =~ ^[0-9]+$ ]] || slurm_error "GPUS=$GPUS is not a number"
TASKS=${TASKS:-$GPUS}
[[ "$TASKS" =~ ^[0-9]+$ && "$TASKS" -ge 1 ]] \
    || slurm_error "TASKS=$TASKS must be at least 1 (GPUS=0 asks for a" \
        "CPU job: set TASKS=N processes)"
if [ "$GPUS" -gt 0 ]; then
    GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
    [[ "$GPUS_PER_NODE" =~ ^[0-9]+$ && "$GPUS_PER_NODE" -ge 1 ]] \
        || slurm_error "GPUS_PER_NODE=$GPUS_PER_NODE must be at least 1" \
            "with GPUS=$GPUS (for a CPU job set GPUS=0)"
    TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
    CPUS_PER_TASK=${CPUS_PER_TASK:-5}
    SRUN_RESOURCES=(--gres="gpu:${GPUS_PER_NODE}")
else
    GPUS_PER_NODE=0
    TASKS_PER_NODE=${TASKS_PER_NODE:-}
    CPUS_PER_TASK=${CPUS_PER_TASK:-1}
    SRUN_RESOURCES=()
fi
SRUN_RESOURCES+=(--ntasks="${TASKS}" --cpus-per-task="${CPUS_PER_TASK}")
if [ -n "$TASKS_PER_NODE" ]; then
    [[ "$TASKS_PER_NODE" =~ ^[0-9]+$ && "$TASKS_PER_NODE" -ge 1 ]] \
        || slurm_error "TASKS_PER_NODE=$TASKS_PER_NODE must be at least 1"
    SRUN_RESOURCES+=(--ntasks-per-node="${TASKS_PER_NODE}")
fi
