#!/bin/sh
# record-real.sh python3|node OUTDIR            — our workloads (real/), which snapshot their own maps
# record-real.sh run OUTDIR PROGRAM [ARGS...]   — any program: snapmaps.so snapshots its maps when it is loaded
#                                                 and at exit
# Record a real program's memory calls between two /proc/self/maps snapshots (method:
# test/fixtures/strace/README.md). Leaves OUTDIR/trace.txt, before.maps, after.maps and, for `run`,
# command.txt; records again (up to 10 times) when a thread touched the address space while a snapshot was
# being read. Programs the recorded one starts are traced too but dropped: they have address spaces of their own.
set -eu
usage() { echo "usage: $0 python3|node OUTDIR | $0 run OUTDIR PROGRAM [ARGS...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
kind=$1 out=$2
shift 2
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $kind in
  python3) [ $# -eq 0 ] || usage
    set -- "$(python3 -c 'import sys; print(sys.executable)')" "$here/real/python-work.py" "$out/before.maps" "$out/after.maps" ;;
  node) [ $# -eq 0 ] || usage
    set -- "$(command -v node)" "$here/real/node-work.mjs" "$out/before.maps" "$out/after.maps" ;;
  run) [ $# -ge 1 ] || usage
    lib=$here/snapmaps.so
    if [ ! -f "$lib" ] || [ "$here/snapmaps.c" -nt "$lib" ]; then
      gcc -O1 -Wall -shared -fPIC -o "$lib.tmp.$$" "$here/snapmaps.c"
      mv "$lib.tmp.$$" "$lib"
    fi
    printf '%s\n' "$*" > "$out/command.txt"
    # The shell's pid is the program's after exec: only that process snapshots.
    set -- env LD_PRELOAD="$lib" MEMTRACE_BEFORE="$out/before.maps" MEMTRACE_AFTER="$out/after.maps" \
      sh -c 'MEMTRACE_PID=$$ exec "$@"' sh "$@" ;;
  *) usage ;;
esac
tries=0
while :; do
  tries=$((tries + 1))
  rm -f "$out/before.maps" "$out/after.maps"
  setarch -R strace -f -y -e trace=memory,openat,close,clone,clone3,execve -o "$out/raw.txt" "$@" > "$out/stdout.txt"
  if node "$here/trim-real.mjs" "$out/raw.txt" "$out/trace.txt"; then break; fi
  if [ $tries -ge 10 ]; then echo "record-real.sh: giving up after $tries tries" >&2; exit 1; fi
done
rm -f "$out/raw.txt" "$out/stdout.txt"
