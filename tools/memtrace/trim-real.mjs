#!/usr/bin/env node
// trim-real.mjs RAW OUT — cut the memory calls made between a program's two /proc/self/maps snapshots out of
// `strace -f -y -e trace=memory,openat,close` output.
//
// A snapshot spans from the openat of "/proc/self/./maps" to the close of that fd. OUT keeps, verbatim, the lines
// of memory calls (both halves of a split one) that start after the first snapshot's close and end before the
// second snapshot's openat; every other line is dropped. Only the calls of the snapshotting process count: its
// threads are those clone()d with CLONE_THREAD from it (traced with `-e trace=...,clone,clone3`); processes it
// starts have address spaces of their own. It refuses (exit 1) when a memory call overlaps a snapshot — a
// thread changed the address space while the file was being read, so the snapshot is not a state the trace
// passes through — and the recording has to be redone. Standalone on purpose: no build needed.
import fs from 'node:fs';

const MEMORY = new Set([
  'mmap', 'munmap', 'mprotect', 'pkey_mprotect', 'mremap', 'brk', 'madvise', 'msync', 'mincore', 'mlock', 'mlock2',
  'munlock', 'mlockall', 'munlockall', 'shmat', 'shmdt', 'io_setup', 'io_destroy', 'remap_file_pages', 'mbind',
  'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node', 'migrate_pages', 'move_pages', 'process_madvise',
  'process_mrelease', 'mseal', 'map_shadow_stack',
]);

const [raw, out] = process.argv.slice(2);
if (!raw || !out) {
  console.error('usage: trim-real.mjs RAW OUT');
  process.exit(2);
}
const lines = fs.readFileSync(raw, 'utf8').split('\n');
if (lines.at(-1) === '') lines.pop();

// Parse each line just enough: pid, and whether it starts a call, ends one, or both.
const head = /^(?:\[pid\s+(\d+)\] |(\d+) +)?(?:<\.\.\. (\w+) resumed>|(\w+)\()/;
const calls = []; // { name, pid, start, end } with 0-based line indices
const open = new Map();
lines.forEach((line, i) => {
  const m = head.exec(line);
  if (!m) return;
  const pid = m[1] ?? m[2] ?? '-';
  if (m[3] !== undefined) {
    const c = open.get(pid);
    if (c && c.name === m[3]) {
      c.end = i;
      c.lines.push(i);
      open.delete(pid);
    }
    return;
  }
  const c = { name: m[4], pid, start: i, end: i, lines: [i], text: line };
  calls.push(c);
  if (line.endsWith(' <unfinished ...>')) open.set(pid, c);
});

// The snapshots open the maps file as "/proc/self/./maps" (a spelling nothing else uses). The first is made by
// the snapshotting process's first thread; the pair is its last two: a program started through wrappers that
// exec it (pyenv shims, rustup proxies) snapshots once in each image that execs, but only the last image exits.
const all = calls.filter((c) => c.name === 'openat' && c.text.includes('"/proc/self/./maps"'));
if (all.length < 2) {
  console.error(`trim-real: expected two openat of "/proc/self/./maps", found ${all.length}`);
  process.exit(1);
}
// The snapshotting process's threads, in the order they were made (a thread may make threads).
const group = new Set([all[0].pid]);
for (const c of [...calls].sort((a, b) => a.start - b.start)) {
  if ((c.name !== 'clone' && c.name !== 'clone3') || !group.has(c.pid) || !/CLONE_THREAD/.test(c.text)) continue;
  const tid = /= (\d+)(?: <[^>]*>)?$/.exec(lines[c.end]);
  if (tid) group.add(tid[1]);
}
const opens = all.filter((c) => group.has(c.pid)).slice(-2);
const exec = calls.find((c) => c.name === 'execve' && group.has(c.pid) && c.start > opens[0].start && c.start < opens[1].start);
if (opens.length !== 2 || exec) {
  console.error(`trim-real: no two snapshots of one address space${exec ? ` (execve at line ${exec.start + 1})` : ''}`);
  process.exit(1);
}
const snaps = opens.map((o) => {
  const fdm = /= (\d+)</.exec(lines[o.end]);
  if (!fdm) throw new Error(`trim-real: no fd returned by the openat at line ${o.end + 1}`);
  const close = calls.find((c) => c.name === 'close' && c.start > o.start && c.pid === o.pid && c.text.includes(`close(${fdm[1]}</proc/`));
  if (!close) throw new Error(`trim-real: no close of fd ${fdm[1]} after line ${o.start + 1}`);
  return { from: o.start, to: close.start };
});
const mem = calls.filter((c) => MEMORY.has(c.name) && group.has(c.pid));
for (const s of snaps) {
  const bad = mem.find((c) => c.start <= s.to && c.end >= s.from);
  if (bad) {
    console.error(`trim-real: ${bad.name} at line ${bad.start + 1} overlaps the snapshot at lines ${s.from + 1}-${s.to + 1}`);
    process.exit(1);
  }
}
const keep = mem.filter((c) => c.start > snaps[0].to && c.end < snaps[1].from).flatMap((c) => c.lines).sort((a, b) => a - b);
fs.writeFileSync(out, keep.map((i) => lines[i] + '\n').join(''));
console.log(`trim-real: ${mem.filter((c) => c.start > snaps[0].to && c.end < snaps[1].from).length} memory calls of ${group.size} thread(s), ${keep.length} lines -> ${out}`);
