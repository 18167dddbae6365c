#!/bin/sh
# run.sh SEED NCALLS OUTDIR — build memtrace if needed, run it under strace with a fixed layout, and leave in
# OUTDIR: trace.txt (the memory calls between the two marker calls, i.e. exactly those between the
# snapshots), before.maps, after.maps, trace.full.txt (everything strace printed) and data.bin (the file
# the program maps).
set -eu
if [ $# -ne 3 ]; then echo "usage: $0 SEED NCALLS OUTDIR" >&2; exit 2; fi
seed=$1 ncalls=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
bin=${MEMTRACE_BIN:-$here/memtrace}
if [ ! -x "$bin" ] || [ "$here/memtrace.c" -nt "$bin" ]; then
  gcc -O1 -Wall -o "$bin.tmp.$$" "$here/memtrace.c"
  mv "$bin.tmp.$$" "$bin"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
: > "$out/data.bin"
setarch -R strace -y -e trace=memory -o "$out/trace.full.txt" \
  "$bin" "$seed" "$ncalls" "$out/before.maps" "$out/after.maps" --file "$out/data.bin"
# Keep the lines strictly between the markers madvise(NULL, 0, 0x4d454d42 ...) and madvise(NULL, 0, 0x4d454d45 ...).
awk '/^madvise\(NULL, 0, 0x4d454d45/ { exit } on { print } /^madvise\(NULL, 0, 0x4d454d42/ { on = 1 }' \
  "$out/trace.full.txt" > "$out/trace.txt"
lines=$(wc -l < "$out/trace.txt")
if [ "$lines" -ne "$ncalls" ]; then
  echo "run.sh: expected $ncalls calls between the markers, found $lines" >&2; exit 1
fi
