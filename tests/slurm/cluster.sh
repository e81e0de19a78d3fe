#!/bin/bash
# A throw-away single-node Slurm cluster on localhost, for the test suite.
#
#   tests/slurm/cluster.sh start DIR   write config into DIR, start munged,
#                                      slurmctld and slurmd; wait until the
#                                      node is idle (at most CLUSTER_WAIT s)
#   tests/slurm/cluster.sh stop DIR    cancel every job, then stop exactly the
#                                      daemons start recorded in DIR (TERM,
#                                      KILL after 10 s), and any slurmstepd or
#                                      job process of this cluster that
#                                      outlived the cancel
#   tests/slurm/cluster.sh env DIR     print what a client needs, for eval:
#                                      eval "$(tests/slurm/cluster.sh env DIR)"
#   tests/slurm/cluster.sh status DIR  exit 0 if all three daemons run
#
# Everything lives in DIR (an absolute or relative path without blanks,
# created if missing): slurm.conf, munge key/socket/pid/log/seed, the
# controller's state, slurmd's spool, the logs and pid files. Each start is a
# fresh cluster (job ids from 1). Nothing in
# /etc/munge or /etc/slurm is read or written, no system daemon is touched,
# and the ports are chosen among free ones (17817/17818 first). The only
# file outside DIR is the lock $TMPDIR/rnnlua-slurm-cluster.lock (TMPDIR
# defaults to /tmp), taken while a start picks its ports. DIR is made
# o+x (munged requires every directory above its socket to be searchable).
#
# Exit status: 0 done; 1 failure; 2 usage; 77 skipped (not root, or Slurm or
# MUNGE not installed) -- the automake convention for a skipped test.
#
# Tunables (environment, read by start):
#   CLUSTER_WAIT=60          seconds to wait for the node to become idle
#   CLUSTER_MIN_JOB_AGE=30   MinJobAge: seconds a finished job stays visible
#   CLUSTER_CRED_EXPIRE=10   AuthInfo cred_expire: a job requeued while
#                            running is held cred_expire+1 s before it may
#                            start again (Slurm's default is 120; least is 5)
#   CLUSTER_PORT=17817       first SlurmctldPort tried (SlurmdPort = +1)

set -u

SLURM_SBIN=${SLURM_SBIN:-/usr/sbin}
PATH=$SLURM_SBIN:$PATH:/usr/bin:/bin:/usr/sbin:/sbin

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    echo "usage: $0 start|stop|env|status DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir_arg=$2

case $dir_arg in
*[[:space:]\'\"\\\$\`]*) die "DIR must not contain blanks or quotes: $dir_arg" ;;
esac

# absolute path of DIR (made for start; must exist otherwise)
absdir() {
    if [ -d "$1" ]; then
        (cd "$1" && pwd -P)
    else
        return 1
    fi
}

# ---- pids ------------------------------------------------------------------

# pid_of NAME: the pid recorded in DIR for daemon NAME (munged, slurmctld,
# slurmd), printed only if that process is alive and really is ours (its
# command line names DIR), so a recycled pid is never signalled.
pid_of() {
    local f pid
    case $1 in
    munged) f=$D/munge/munged.pid ;;
    *) f=$D/run/$1.pid ;;
    esac
    [ -r "$f" ] || return 1
    pid=$(tr -cd '0-9' <"$f")
    [ -n "$pid" ] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$D/" || return 1
    alive "$pid" || return 1 # a zombie is as good as gone
    echo "$pid"
}

# alive PID: the process exists and is not a zombie (pid 1 here may take its
# time to reap)
alive() {
    case $(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) in
    Z | X | "") return 1 ;;
    esac
    return 0
}

# stop_daemon NAME: TERM, wait up to 10 s, then KILL, by recorded pid only
# (checked to be ours once; then waited for until it is gone).
stop_daemon() {
    local pid
    pid=$(pid_of "$1") || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        alive "$pid" || { say "stopped $1 ($pid)"; return 0; }
        sleep 0.1
    done
    say "$1 ($pid) ignored TERM for 10 s: KILL"
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        alive "$pid" || return 0
        sleep 0.1
    done
    say "$1 ($pid) still alive after KILL"
    return 1
}

# kill_leftovers: end this cluster's slurmstepd and job processes that the
# cancel did not end (a stuck slurmstepd would also hold up slurmd's exit).
kill_leftovers() {
    local dre
    # A batch script whose slurmstepd died before it could end it runs as
    # "DIR/spool/jobNNNNN/slurm_script" and leads the job's process group.
    # slurmstepd processes have no pid file; each keeps DIR/log/slurmd.log
    # open, which identifies it as this cluster's. One grep and one find over
    # /proc, as a loop of readlinks is slow where /proc is (gVisor). The
    # regex, unlike a fixed string, does not match grep's own command line.
    dre=$(printf '%s' "$D" | sed 's/[][\.*^$+?(){}|]/\\&/g')
    grep -lE -- "$dre/spool/job[0-9]+/slurm_script" /proc/[0-9]*/cmdline 2>/dev/null |
        while read -r f; do
            pid=${f#/proc/}
            pid=${pid%/cmdline}
            pgid=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $3}')
            say "killing leftover job process $pid (group $pgid)"
            if [ "$pgid" = "$pid" ]; then kill -KILL -- "-$pid"; else kill -KILL "$pid"; fi 2>/dev/null
        done
    find /proc/[0-9]*/fd -lname "$D/log/slurmd.log" 2>/dev/null |
        while read -r f; do
            pid=${f#/proc/}
            pid=${pid%%/*}
            # slurmd itself, if it is still on its way out
            [ "$pid" = "$(tr -cd '0-9' 2>/dev/null <"$D/run/slurmd.pid")" ] && continue
            say "killing leftover process $pid ($(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline"))"
            kill -KILL "$pid" 2>/dev/null
        done
}

# ---- stop ------------------------------------------------------------------

do_stop() {
    local left ids rc=0
    export SLURM_CONF=$D/slurm.conf
    if pid_of slurmctld >/dev/null && [ -r "$SLURM_CONF" ]; then
        # cancel whatever is left, and give the steps a moment to go away,
        # so no slurmstepd (or job) outlives the cluster
        if [ -n "$(squeue -h -o %i 2>/dev/null | head -n 1)" ]; then
            say "cancelling the jobs left: $(squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
            # %F: the array's job id (the job id for a plain job), so the
            # whole array goes, pending tasks included
            ids=$(squeue -h -o %F 2>/dev/null | sort -u)
            # shellcheck disable=SC2086 # one word per job id
            scancel --quiet $ids 2>/dev/null
            for _ in $(seq 1 100); do
                left=$(squeue -h -t PD,R,CG,S,CF,RQ,RS,SE -o %i 2>/dev/null | head -n 1)
                [ -z "$left" ] && break
                sleep 0.1
            done
        fi
    fi
    kill_leftovers
    stop_daemon slurmd || rc=1
    stop_daemon slurmctld || rc=1
    kill_leftovers
    stop_daemon munged || rc=1
    return $rc
}

# ---- start -----------------------------------------------------------------

# port_busy PORT: a TCP socket (IPv4 or IPv6, listening or connected; not
# one in TIME_WAIT, which Slurm's SO_REUSEADDR binds over) uses PORT
# locally. Reads /proc/net directly (ss may be missing); agrees with ss -tan.
port_busy() {
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk -v h="$hex" '{ n = split($2, a, ":"); if (a[n] == h && $4 != "06") f = 1 } END { exit !f }'
}

pick_ports() {
    local p=${CLUSTER_PORT:-17817} _
    for _ in $(seq 1 200); do
        if ! port_busy "$p" && ! port_busy $((p + 1)); then
            echo "$p"
            return 0
        fi
        p=$((p + 2))
    done
    return 1
}

write_conf() {
    local cpus mem
    # CPUs as slurmd itself counts them (it must not report fewer than
    # configured, or the node is drained); nproc as a fallback.
    cpus=$(slurmd -C 2>/dev/null | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$cpus" ] || cpus=$(nproc)
    mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
    if [ -z "$mem" ] || [ "$mem" -gt 1000 ]; then mem=1000; fi
    : >"$D/plugstack.conf"
    cat >"$D/slurm.conf" <<EOF
# throw-away test cluster written by tests/slurm/cluster.sh; all in $D
ClusterName=$CLUSTER_NAME
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.sock,cred_expire=${CLUSTER_CRED_EXPIRE:-10}
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$D/plugstack.conf
TmpFS=$D/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
JobRequeue=1
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2,batch_sched_delay=0,sched_min_interval=0
MinJobAge=${CLUSTER_MIN_JOB_AGE:-30}
KillWait=2
InactiveLimit=0
SlurmdTimeout=60
MailProg=/bin/true
SlurmctldTimeout=60
MessageTimeout=10
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

tail_logs() {
    local f
    for f in "$D/munged.log" "$D/log/slurmctld.log" "$D/log/slurmd.log"; do
        [ -r "$f" ] || continue
        echo "---- tail $f" >&2
        tail -n 25 "$f" >&2
    done
}

fail_start() {
    say "$*"
    tail_logs
    do_stop
    exit 1
}

do_start() {
    local state t0
    for b in munged slurmctld slurmd sinfo squeue scancel sbatch; do
        command -v "$b" >/dev/null 2>&1 || { say "skipped: $b not installed"; exit 77; }
    done
    if pid_of slurmctld >/dev/null || pid_of slurmd >/dev/null || pid_of munged >/dev/null; then
        if pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null && pid_of munged >/dev/null; then
            say "already running in $D"
            return 0
        fi
        say "partly running in $D: stopping it first"
        do_stop
    fi
    t0=$(date +%s.%N)

    # munged checks that every directory above its socket is searchable by
    # all: DIR gets o+x (not r, not w); munge/ is 0755.
    chmod 0711 "$D" || die "cannot chmod $D"
    # a fresh cluster each time: no state of an earlier start (whose
    # ClusterName, from its ports, slurmctld would refuse)
    rm -rf "$D/state" "$D/spool"
    mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/run" "$D/log" "$D/tmp" || die "cannot populate $D"
    chmod 0755 "$D/munge"
    chmod 1777 "$D/tmp"
    rm -f "$D/munge/munge.sock" "$D/munge/munge.sock.lock" "$D/run/"*.pid "$D/munge/munged.pid"

    # ---- munge key and daemon
    if [ ! -s "$D/munge/munge.key" ]; then
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile="$D/munge/munge.key" >/dev/null 2>&1
        fi
        [ -s "$D/munge/munge.key" ] ||
            dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 0400 "$D/munge/munge.key"

    # Choose the ports and start the daemons under a lock, held until the
    # node is idle (so the ports are bound and seen as busy): two starts
    # running at once then never take the same ports.
    LOCK=${TMPDIR:-/tmp}/rnnlua-slurm-cluster.lock
    if command -v flock >/dev/null 2>&1 && exec 9>>"$LOCK"; then
        flock -w 120 9 || die "cannot lock $LOCK"
    fi
    PORT=$(pick_ports) || die "no free port pair found"
    CLUSTER_NAME=rnnlua$PORT
    write_conf

    export SLURM_CONF=$D/slurm.conf
    munged --socket="$D/munge/munge.sock" --key-file="$D/munge/munge.key" \
        --pid-file="$D/munge/munged.pid" --log-file="$D/munged.log" \
        --seed-file="$D/munge/munged.seed" 9>&- ||
        fail_start "munged failed to start"
    for _ in $(seq 1 50); do
        [ -S "$D/munge/munge.sock" ] && break
        sleep 0.1
    done
    [ -S "$D/munge/munge.sock" ] || fail_start "munged made no socket"

    # -i: ignore (absent) state; daemons fork and write their pid files
    slurmctld -i -f "$D/slurm.conf" -L "$D/log/slurmctld.log" 9>&- </dev/null >>"$D/log/slurmctld.out" 2>&1 ||
        fail_start "slurmctld failed to start"
    slurmd -f "$D/slurm.conf" -N localhost -L "$D/log/slurmd.log" 9>&- </dev/null >>"$D/log/slurmd.out" 2>&1 ||
        fail_start "slurmd failed to start"

    local wait=${CLUSTER_WAIT:-60} deadline
    deadline=$(($(date +%s) + wait))
    state=
    while [ "$(date +%s)" -le "$deadline" ]; do
        pid_of slurmctld >/dev/null || { sleep 0.2; pid_of slurmctld >/dev/null || fail_start "slurmctld died"; }
        pid_of slurmd >/dev/null || { sleep 0.2; pid_of slurmd >/dev/null || fail_start "slurmd died"; }
        state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
        case $state in
        idle) break ;;
        esac
        sleep 0.2
    done
    exec 9>&- # unlock
    [ "$state" = idle ] || fail_start "node not idle after ${wait}s (state: ${state:-none})"
    say "cluster $CLUSTER_NAME up in $D (ports $PORT/$((PORT + 1)), $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
}

# ---- main ------------------------------------------------------------------

case $cmd in
start)
    if [ "$(id -u)" -ne 0 ]; then
        say "skipped: must run as root (the test cluster runs slurmd as root)"
        exit 77
    fi
    mkdir -p "$dir_arg" || die "cannot create $dir_arg"
    D=$(absdir "$dir_arg") || die "no directory $dir_arg"
    do_start
    ;;
stop)
    D=$(absdir "$dir_arg") || exit 0 # nothing was started there
    do_stop
    ;;
env)
    D=$(absdir "$dir_arg") || die "no directory $dir_arg"
    [ -r "$D/slurm.conf" ] || die "no cluster in $D (run start first)"
    echo "SLURM_CONF='$D/slurm.conf'; export SLURM_CONF"
    ;;
status)
    D=$(absdir "$dir_arg") || exit 1
    pid_of munged >/dev/null && pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null
    ;;
*) usage ;;
esac
