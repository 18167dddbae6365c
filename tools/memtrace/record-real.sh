#!/bin/sh
# record-real.sh python3|node OUTDIR — record a real program's memory calls and the /proc/self/maps snapshots
# it takes of itself at the start and at the end of its work (method: test/fixtures/strace/README.md).
# Leaves OUTDIR/trace.txt, before.maps, after.maps; retries when a thread touched the address space while a
# snapshot was being read.
set -eu
if [ $# -ne 2 ]; then echo "usage: $0 python3|node OUTDIR" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
kind=$1 out=$2
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $kind in
  python3) prog=$(python3 -c 'import sys; print(sys.executable)'); script=$here/real/python-work.py ;;
  node) prog=$(command -v node); script=$here/real/node-work.mjs ;;
  *) echo "record-real.sh: unknown program $kind" >&2; exit 2 ;;
esac
tries=0
while :; do
  tries=$((tries + 1))
  setarch -R strace -f -y -e trace=memory,openat,close -o "$out/raw.txt" \
    "$prog" "$script" "$out/before.maps" "$out/after.maps"
  if node "$here/trim-real.mjs" "$out/raw.txt" "$out/trace.txt"; then break; fi
  if [ $tries -ge 10 ]; then echo "record-real.sh: giving up after $tries tries" >&2; exit 1; fi
done
rm -f "$out/raw.txt"
