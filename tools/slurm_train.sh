#!/usr/bin/env bash
# Training on a Slurm cluster: one task per GPU, or CPU tasks.
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py arguments]
#   GPUS=0 TASKS=2 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [...]
# Resources: see tools/slurm/resources.sh (GPUS, TASKS, GPUS_PER_NODE,
# TASKS_PER_NODE, CPUS_PER_TASK); SRUN_ARGS adds srun options, PYTHON names
# the interpreter (default python).
set -eo pipefail

[ $# -ge 3 ] || {
    sed -n 2,3p "$0" >&2
    exit 2
}
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PYTHON=${PYTHON:-python}
source "$(dirname "$0")/slurm/resources.sh"
set -x

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    "${SRUN_RESOURCES[@]}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "$PYTHON" -u "$(dirname "$0")/train.py" "${CONFIG}" --launcher=slurm "${@:4}"
