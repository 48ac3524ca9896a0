#!/usr/bin/env bash
# Install (if needed) and start a single-node Slurm cluster on this machine:
# Debian's slurmctld, slurmd and munge, one CPU partition named "local" with
# all of this machine's CPUs. The tests run tools/slurm_train.sh and
# tools/slurm_test.sh through it; .ci/run calls this script before them.
#
#   bash tools/slurm/start_local_cluster.sh          # install if needed, start
#   SLURM_NO_INSTALL=1 bash tools/slurm/start_local_cluster.sh   # never apt
#
# Needs root (or password-less sudo) for apt and the daemons. Idempotent: a
# cluster that already answers is left as it is. Exits 1 with the reason when
# Slurm cannot be installed or started; the Slurm tests are then skipped with
# that reason (written to $SLURM_STATUS_FILE, default
# /tmp/mmdr_slurm_status).
set -uo pipefail

PARTITION=${SLURM_PARTITION:-local}
STATUS_FILE=${SLURM_STATUS_FILE:-/tmp/mmdr_slurm_status}
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
SPOOL=/var/spool/slurm

fail() {
    echo "start_local_cluster: $*" >&2
    echo "$*" > "$STATUS_FILE"
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
        sudo -n "$@"
    else
        return 126
    fi
}

answers() {
    # The cluster is up when the partition has a node that takes jobs.
    local state
    state=$(timeout 10 sinfo -h -p "$PARTITION" -o '%t' 2> /dev/null | head -1)
    case "$state" in
        idle* | mix* | alloc*) return 0 ;;
        *) return 1 ;;
    esac
}

if command -v sinfo > /dev/null && answers; then
    echo "start_local_cluster: partition '$PARTITION' already answers"
    echo ok > "$STATUS_FILE"
    exit 0
fi

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null \
    || ! command -v srun > /dev/null || ! command -v munged > /dev/null; then
    [ -n "${SLURM_NO_INSTALL:-}" ] \
        && fail "Slurm is not installed and SLURM_NO_INSTALL is set"
    command -v apt-get > /dev/null \
        || fail "Slurm is not installed and this machine has no apt-get"
    echo "start_local_cluster: installing slurmctld slurmd slurm-client munge"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends slurmctld slurmd slurm-client munge \
        > /tmp/mmdr_slurm_apt.log 2>&1 \
        || as_root env DEBIAN_FRONTEND=noninteractive sh -c \
            'apt-get update && apt-get install -y --no-install-recommends \
             slurmctld slurmd slurm-client munge' \
            >> /tmp/mmdr_slurm_apt.log 2>&1 \
        || fail "apt-get could not install Slurm (root or sudo and a" \
            "reachable Debian mirror are needed; see /tmp/mmdr_slurm_apt.log)"
fi

# munge: the key, then the daemon as its own user.
if ! as_root test -s /etc/munge/munge.key; then
    as_root sh -c 'dd if=/dev/urandom bs=1 count=1024 \
        of=/etc/munge/munge.key 2> /dev/null' \
        || fail "cannot write /etc/munge/munge.key"
fi
as_root chown munge:munge /etc/munge/munge.key
as_root chmod 400 /etc/munge/munge.key
as_root mkdir -p /run/munge
as_root chown munge:munge /run/munge
if ! munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then
    as_root runuser -u munge -- munged 2> /tmp/mmdr_munged.log \
        || fail "munged does not start ($(tail -1 /tmp/mmdr_munged.log))"
    sleep 1
    munge -n | unmunge > /dev/null 2>&1 || fail "munge does not answer"
fi

# A cluster configured by someone else is never touched.
MARKER="# Written by mmdr's tools/slurm/start_local_cluster.sh."
if [ -f "$CONF_DIR/slurm.conf" ] \
    && ! grep -qxF "$MARKER" "$CONF_DIR/slurm.conf"; then
    fail "$CONF_DIR/slurm.conf exists and was not written by this script;" \
        "left as it is (its partition '$PARTITION' does not answer)"
fi

# One node, all CPUs; processes tracked without cgroups (containers rarely
# allow them).
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
as_root mkdir -p "$CONF_DIR" "$LOG_DIR" "$SPOOL/ctld" "$SPOOL/d"
as_root tee "$CONF_DIR/slurm.conf" > /dev/null << EOF
$MARKER
ClusterName=mmdr
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

as_root pkill -x slurmctld 2> /dev/null
as_root pkill -x slurmd 2> /dev/null
sleep 1
as_root slurmctld -c 2> /tmp/mmdr_slurmctld.err \
    || fail "slurmctld does not start: $(tail -1 /tmp/mmdr_slurmctld.err)"
as_root slurmd 2> /tmp/mmdr_slurmd.err \
    || fail "slurmd does not start: $(tail -1 /tmp/mmdr_slurmd.err)"

for _ in $(seq 30); do
    if answers; then
        echo "start_local_cluster: partition '$PARTITION' answers" \
            "($HOST, $CPUS CPUs)"
        echo ok > "$STATUS_FILE"
        exit 0
    fi
    as_root scontrol update nodename="$HOST" state=resume > /dev/null 2>&1
    sleep 1
done
fail "the node does not come up in partition '$PARTITION'" \
    "(see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log)"
