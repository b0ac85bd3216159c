#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages, as root and without systemd
# (../shared/notes/TOOLCHAIN.md, "Slurm on one machine"). Everything it writes lives in one state folder
# (default runs/slurm-local/): its slurm.conf, spool, logs and the pid files of the daemons it started.
#
#   bash scripts/slurm-local.sh install   # apt-get the packages (munge, slurmctld, slurmd, slurm-client)
#   bash scripts/slurm-local.sh start     # start munged (unless one runs), slurmctld and slurmd; wait for the node
#   eval "$(bash scripts/slurm-local.sh env)"   # SLURM_CONF for sbatch/squeue/scancel in this shell
#   bash scripts/slurm-local.sh stop      # stop exactly the daemons `start` started (by their pid files)
#
# Set SLURM_LOCAL_DIR to keep the state elsewhere. Not for a machine that already runs a Slurm cluster.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SLURM_LOCAL_DIR:-$ROOT/runs/slurm-local}"
CONF="$DIR/slurm.conf"
say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  [[ $(id -u) == 0 ]] || die "install needs root (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmd slurmctld slurm-client munge >/dev/null
  say "installed: $(slurmctld -V)"
}

write_conf() {
  local host cpus mem
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
  mkdir -p "$DIR/spool/ctld" "$DIR/spool/d" "$DIR/log"
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for trying job arrays on this machine.
ClusterName=fbc-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  [[ $(id -u) == 0 ]] || die "start needs root (the daemons run as root here)"
  for b in munged slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || die "$b not found: run 'bash scripts/slurm-local.sh install' first (Debian's munge, slurmctld, slurmd, slurm-client)"
  done
  if alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid"; then die "already running from $DIR (stop it first)"; fi
  if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
    die "a Slurm daemon not started by this script is running; this script leaves other clusters alone"
  fi
  write_conf
  # munge: reuse a running munged (not ours to stop); otherwise start one as the munge user.
  rm -f "$DIR/munged.pid"
  if ! pgrep -x munged >/dev/null; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/fbc-munged.pid"
    for _ in $(seq 50); do [[ -s /run/munge/fbc-munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/fbc-munged.pid "$DIR/munged.pid"
    say "started munged (pid $(cat "$DIR/munged.pid"))"
  fi
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  export SLURM_CONF="$CONF"
  for _ in $(seq 100); do
    if sinfo -h -o "%t" 2>/dev/null | grep -qE "^(idle|mix|alloc)"; then
      say "up: node $(hostname -s), $(nproc) CPUs, partition local (state in $DIR)"
      return 0
    fi
    sleep 0.2
  done
  stop || true
  die "the node did not become idle within 20 s; see $DIR/log/"
}

stop() {
  local any=0
  for d in slurmd slurmctld munged; do
    local pidfile="$DIR/$d.pid"
    if alive "$pidfile"; then
      local pid
      pid="$(cat "$pidfile")"
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      say "stopped $d (pid $pid)"
      any=1
    fi
    rm -f "$pidfile"
  done
  [[ $any == 1 ]] || say "nothing of ours was running"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: bash scripts/slurm-local.sh install|start|stop|env" ;;
esac
