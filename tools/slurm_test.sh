#!/usr/bin/env bash
# Testing on a Slurm cluster: one task per GPU, or CPU tasks.
#   GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py arguments]
#   GPUS=0 TASKS=2 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [...]
# Resources: see tools/slurm/resources.sh (GPUS, TASKS, GPUS_PER_NODE,
# TASKS_PER_NODE, CPUS_PER_TASK); SRUN_ARGS adds srun options, PYTHON names
# the interpreter (default python).
set -eo pipefail

[ $# -ge 4 ] || {
    sed -n 2,3p "$0" >&2
    exit 2
}
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
PYTHON=${PYTHON:-python}
source "$(dirname "$0")/slurm/resources.sh"
set -x

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    "${SRUN_RESOURCES[@]}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "$PYTHON" -u "$(dirname "$0")/test.py" "${CONFIG}" "${CHECKPOINT}" --launcher=slurm "${@:5}"
