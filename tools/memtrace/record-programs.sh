#!/bin/bash
# record-programs.sh OUTDIR [NAME...] — record the real programs of test/fixtures/strace/real (all, or those
# named) with `record-real.sh run`, into OUTDIR/NAME, on inputs made here in OUTDIR/inputs. Programs not
# installed are skipped with a line saying so. Then: mmsplit replay OUTDIR/NAME/trace.txt --maps
# OUTDIR/NAME/before.maps --expect OUTDIR/NAME/after.maps.
set -eu
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [NAME...]" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$1/inputs"
out=$(cd "$1" && pwd)
in=$out/inputs
shift
real=$here/real
# Inputs: numbers and text, the same on every machine.
seq 1 400000 | awk '{ print ($1 * 7919) % 100003, $1 }' > "$in/nums.txt"
seq 1 600000 | awk '{ printf "%08x%08x %s\n", ($1 * 2654435761) % 4294967296, $1, "lorem ipsum dolor" }' > "$in/text.txt"
cc1=$(gcc -print-prog-name=cc1 2>/dev/null || true)

# name|program and its arguments, split as the shell splits them
programs() {
  cat <<LIST
java|java -Xmx256m -cp $in Work
java-g1|java -XX:+UseG1GC -Xmx512m -cp $in Work
javac|javac -d $in/javac-out $real/Work.java
rustc|rustc -O -o $in/work-rs $real/work.rs
cc1|$cc1 -fpreprocessed -quiet -O2 $in/work.i -o $in/work.s
ld|ld -r -o $in/work-r.o $in/work.o
perl|perl $real/work.pl
sqlite3|sqlite3 :memory: .read\ $real/work.sql
python3-threads|python3 $real/threads.py
python3-json|python3 -m json.tool $repo/package-lock.json
npm|npm --version
git-log|git -C $repo --no-pager log -p --stat -300
git-grep|git -C $repo grep -n anon_vma
xz|xz -T2 -6 -c $in/text.txt
zstd|zstd -T2 -c $in/text.txt
sort|sort --parallel=2 -S 50M -n $in/nums.txt
awk|awk -f $real/work.awk $in/nums.txt
tar|tar -cf $in/src.tar -C $repo src docs
grep|grep -rn anon_vma $repo/src
find|find /usr/lib -name '*.so*'
sed|sed -e s/vma/VMA/g -e s/mm/MM/ $repo/src/mm/mm.ts
objdump|objdump -d $(command -v git)
LIST
}

status=0
while IFS='|' read -r name cmd; do
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  eval "args=($cmd)"
  if ! command -v "${args[0]}" > /dev/null 2>&1; then echo "$name: skipped (${args[0]} not installed)"; continue; fi
  case $name in
    java|java-g1) [ -f "$in/Work.class" ] || javac -d "$in" "$real/Work.java" ;;
    cc1) [ -f "$in/work.i" ] || gcc -E "$real/work.c" -o "$in/work.i" ;;
    ld) [ -f "$in/work.o" ] || gcc -c "$real/work.c" -o "$in/work.o" ;;
  esac
  if sh "$here/record-real.sh" run "$out/$name" "${args[@]}" > "$out/$name.log" 2>&1; then
    echo "$name: $(tail -1 "$out/$name.log")"
    rm "$out/$name.log"
  else
    echo "$name: recording failed ($out/$name.log)"
    status=1
  fi
done < <(programs)
exit $status
