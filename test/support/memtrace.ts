// Whether this machine can record memtrace fixtures on the fly (gcc, strace, setarch, and ptrace allowed).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compareLayouts, replay, type ReplayOptions } from '../../src/trace/replay.js';

/** undefined if the tools work here, else why not (for t.skip). */
export function memtraceUnavailable(): string | undefined {
  for (const tool of ['gcc', 'strace', 'setarch']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { timeout: 5000 }).status !== 0) return `${tool} not found`;
  }
  // containers may forbid ptrace, or personality changes
  const probe = spawnSync('setarch', ['-R', 'strace', '-o', '/dev/null', '-e', 'trace=none', 'true'], { timeout: 10000 });
  if (probe.status !== 0) return `strace cannot run here: ${String(probe.stderr).trim().split('\n')[0]}`;
  return undefined;
}

/**
 * What keeps the recording in `dir` (trace.txt, before.maps, after.maps) from replaying exactly — every return
 * value, the final layout, and the maps text but for dev and inode (shmem inodes come from a global counter) —
 * or undefined when it does. memtrace's recordings (a `data.bin` in BEFORE) are replayed as memtrace runs:
 * nothing written but what it populates, data.bin 64 pages (FILE_PAGES; the file is gone from the recording
 * machine).
 */
export function replayDivergence(dir: string, validate = false): string | undefined {
  const trace = fs.readFileSync(path.join(dir, 'trace.txt'), 'utf8');
  const before = fs.readFileSync(path.join(dir, 'before.maps'), 'utf8');
  const after = fs.readFileSync(path.join(dir, 'after.maps'), 'utf8');
  const dataBin = /\s(\/\S*\/data\.bin)$/m.exec(before)?.[1];
  const opts: ReplayOptions = dataBin ? { assumeWritten: false, fileSizes: { [dataBin]: 64 * 4096 }, validate } : { validate };
  const r = replay(trace, before, opts, path.join(dir, 'trace.txt'), path.join(dir, 'before.maps'));
  const d = r.firstDivergence;
  if (d) return `${r.divergences} calls diverged, first at line ${d.line}: ${d.call} expected ${d.expected} got ${d.actual}`;
  const diff = compareLayouts(after, r.maps);
  if (!diff.equal) return `final layout differs:\n${diff.lines.filter((l) => l[0] !== ' ').join('\n')}`;
  // (and " (deleted)": unlink is not a memory call; see compareLayouts)
  const norm = (m: string) => m.replace(/^(\S+ \S+ \S+) [0-9a-f]+:[0-9a-f]+ \d+ +/gm, '$1 DEV INO ').replace(/ \(deleted\)$/gm, '');
  if (norm(r.maps) !== norm(after)) return 'maps text differs (but for dev, inode and " (deleted)")';
  r.mm.validate();
  return undefined;
}
