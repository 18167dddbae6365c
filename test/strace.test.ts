/**
 * The strace parser (src/trace/strace.ts) on committed fixtures, on hand-written lines that exercise every
 * spelling strace uses, on malformed input, and — where gcc, strace and setarch exist — on traces that
 * tools/memtrace generates on the fly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MAP,
  MADV,
  MREMAP,
  PROT,
  StraceParseError,
  StraceParser,
  countByName,
  parseStrace,
  parseStraceDetailed,
  type MmapRecord,
  type SyscallRecord,
} from '../src/trace/strace.js';
import { formatMaps, isSortedDisjoint, mmEntries, parseMaps, type MapsEntry } from '../src/trace/maps.js';
import { Prng } from '../src/util/prng.js';
import { memtraceUnavailable } from './support/memtrace.js';

// Compiled to dist*/test/, so the repository root is two levels up.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(ROOT, 'test/fixtures/strace');
const read = (rel: string): string => fs.readFileSync(path.join(FIX, rel), 'utf8');

function statsAddUp(text: string, file: string): ReturnType<typeof parseStraceDetailed> {
  const r = parseStraceDetailed(text, file);
  const s = r.stats;
  const sum = s.calls + s.unfinished + s.resumed + s.nonMemory + s.exits + s.signals + s.messages + s.blank;
  assert.equal(sum, s.lines, `${file}: every line accounted for`);
  assert.equal(s.lines, text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length, `${file}: line count`);
  assert.equal(r.records.length, s.calls + s.resumed, `${file}: one record per call`);
  assert.deepEqual(r.pending, [], `${file}: no call left unfinished`);
  for (const rec of r.records) {
    // a result is an address/0, or -1 with an errno, or '?'
    if (rec.ret === -1) assert.ok(rec.errno && rec.errnoNum, `${file}:${rec.line}: errno with -1`);
    else if (rec.ret !== undefined) assert.ok(rec.ret >= 0 && rec.errno === undefined, `${file}:${rec.line}: plain result`);
    assert.ok(rec.startLine <= rec.line);
  }
  return r;
}

/** The VMAs of a maps snapshot (the vsyscall gate left out), parsed by src/trace/maps.ts. */
function mapRanges(text: string, file: string): MapsEntry[] {
  const entries = parseMaps(text, file);
  assert.ok(isSortedDisjoint(entries), `${file}: sorted, disjoint`);
  assert.equal(formatMaps(entries), text, `${file}: prints back byte for byte`);
  return mmEntries(entries);
}

/**
 * A crude check that BEFORE + TRACE = AFTER at the level of "which pages are mapped" (no protections, no
 * merging): it catches a trace cut at the wrong place, a call missing, or a snapshot taken at the wrong time.
 * [stack] is left out: it grows by faults, not by calls.
 */
function checkMappedPages(before: string, trace: SyscallRecord[], after: string, what: string): void {
  const P = 4096;
  const pages = new Set<number>();
  const up = (x: number): number => Math.ceil(x / P) * P;
  const add = (a: number, len: number): void => {
    for (let x = a; x < a + len; x += P) pages.add(x / P);
  };
  const del = (a: number, len: number): void => {
    for (let x = a; x < a + len; x += P) pages.delete(x / P);
  };
  const b = mapRanges(before, `${what}/before.maps`);
  for (const r of b) if (r.path !== '[stack]') add(r.start, r.end - r.start);
  // the break starts at the end of [heap], or, with no heap yet, at the end of the program's last mapping below it
  const heap = b.find((r) => r.path === '[heap]');
  let brk: number | undefined = heap?.end;
  for (const r of trace) {
    if (r.ret === undefined || r.ret === -1) continue;
    switch (r.name) {
      case 'mmap':
        add(r.ret, up(r.args.length));
        break;
      case 'munmap':
        del(r.args.addr, up(r.args.length));
        break;
      case 'mremap': {
        const { addr, oldLength, newLength, flags } = r.args;
        if (r.ret === addr) {
          // in place: a shrink only unmaps the tail (the kernel does not even require the head to be mapped),
          // a growth only maps the new tail
          if (newLength <= oldLength) del(addr + up(newLength), up(oldLength) - up(newLength));
          else add(addr + up(oldLength), up(newLength) - up(oldLength));
        } else {
          // a move takes the mapped pages of the head along, and a growth maps the new tail; since Linux 6.17 a
          // MREMAP_FIXED move may span several VMAs: each lands at its offset, and the target under a hole of
          // the source is left as it was
          const moved: number[] = [];
          for (let x = addr; x < addr + up(Math.min(oldLength, newLength)); x += P) if (pages.has(x / P)) moved.push(x - addr);
          if (!(flags & MREMAP.MREMAP_DONTUNMAP)) del(addr, up(oldLength));
          for (const off of moved) add(r.ret + off, P);
          if (newLength > oldLength) add(r.ret + up(oldLength), up(newLength) - up(oldLength));
        }
        break;
      }
      case 'brk': {
        const cur = r.ret;
        if (brk === undefined) brk = Math.max(...b.filter((m) => m.end <= cur).map((m) => m.end));
        const next = up(r.ret);
        if (next > brk) add(brk, next - brk);
        else del(next, brk - next);
        brk = next;
        break;
      }
      default:
    }
  }
  const want = new Set<number>();
  for (const r of mapRanges(after, `${what}/after.maps`)) if (r.path !== '[stack]') for (let x = r.start; x < r.end; x += P) want.add(x / P);
  const missing = [...want].filter((x) => !pages.has(x));
  const extra = [...pages].filter((x) => !want.has(x));
  const hex = (xs: number[]): string => xs.slice(0, 4).map((x) => (x * P).toString(16)).join(', ');
  assert.equal(missing.length, 0, `${what}: pages mapped in AFTER but not by BEFORE + trace: ${hex(missing)}`);
  assert.equal(extra.length, 0, `${what}: pages mapped by BEFORE + trace but not in AFTER: ${hex(extra)}`);
}

// ---------------------------------------------------------------------------------------------------------
// Committed fixtures

const EXPECTED: Record<string, Record<string, number>> = {
  python3: { mmap: 1036, mprotect: 15, munmap: 970, brk: 147, mremap: 27 },
  node: { mmap: 1302, madvise: 1407, munmap: 2385, mprotect: 2539, brk: 145 },
  'memtrace-seed-1': { mremap: 45, munmap: 43, madvise: 50, mmap: 107, brk: 16, mprotect: 39 },
  'memtrace-seed-2': { mmap: 102, munmap: 42, mprotect: 42, mremap: 49, madvise: 43, brk: 22 },
  'memtrace-seed-3': { munmap: 51, mmap: 83, mremap: 39, mprotect: 60, brk: 23, madvise: 44 },
  'memtrace-seed-4': { mprotect: 67, madvise: 40, mmap: 87, mremap: 35, munmap: 50, brk: 21 },
  'memtrace-seed-5': { mprotect: 56, mmap: 86, madvise: 54, mremap: 42, munmap: 46, brk: 16 },
};

for (const [dir, counts] of Object.entries(EXPECTED)) {
  test(`fixture ${dir}: parses completely, counts per call, consistent with its snapshots`, () => {
    const file = `${dir}/trace.txt`;
    const r = statsAddUp(read(file), file);
    assert.deepEqual(countByName(r.records), counts);
    assert.equal(r.stats.nonMemory + r.stats.exits + r.stats.signals + r.stats.messages + r.stats.blank, 0, 'trimmed: calls only');
    if (dir.startsWith('memtrace')) assert.equal(r.records.length, 300);
    else assert.ok(r.records.length >= 1000, 'real programs: at least 1000 calls');
    checkMappedPages(read(`${dir}/before.maps`), r.records, read(`${dir}/after.maps`), dir);
  });
}

test('fixtures real/*: parse completely, calls only, consistent with their snapshots', () => {
  const dirs = fs.readdirSync(path.join(FIX, 'real'));
  assert.ok(dirs.length >= 10);
  for (const d of dirs) {
    const file = `real/${d}/trace.txt`;
    const r = statsAddUp(read(file), file);
    assert.equal(r.stats.nonMemory + r.stats.exits + r.stats.signals + r.stats.messages + r.stats.blank, 0, `${file}: calls only`);
    checkMappedPages(read(`real/${d}/before.maps`), r.records, read(`real/${d}/after.maps`), `real/${d}`);
  }
});

test('fixture node: several threads, split calls joined per thread', () => {
  const r = statsAddUp(read('node/trace.txt'), 'node/trace.txt');
  const pids = new Set(r.records.map((x) => x.pid));
  assert.ok(pids.size >= 4, `threads seen: ${pids.size}`);
  assert.ok(r.stats.unfinished > 100 && r.stats.unfinished === r.stats.resumed);
  const split = r.records.find((x) => x.startLine < x.line && x.name === 'mmap') as MmapRecord;
  assert.ok(split, 'a split mmap');
  assert.ok(split.ret !== undefined && split.ret > 0);
});

test('fixture memtrace-seed-1 full trace: markers, loader calls, exit line', () => {
  const full = statsAddUp(read('memtrace-seed-1/trace.full.txt'), 'trace.full.txt');
  assert.equal(full.stats.exits, 1);
  const marks = full.records.filter((x) => x.name === 'madvise' && (x.args.advice === 0x4d454d42 || x.args.advice === 0x4d454d45));
  assert.equal(marks.length, 2);
  for (const m of marks) assert.equal(m.errno, 'EINVAL');
  // the trimmed trace is exactly the calls strictly between the markers
  const trimmed = parseStrace(read('memtrace-seed-1/trace.txt'));
  const inner = full.records.filter((x) => x.line > marks[0]!.line && x.line < marks[1]!.line);
  assert.deepEqual(
    inner.map((x) => ({ ...x, line: 0, startLine: 0 })),
    trimmed.map((x) => ({ ...x, line: 0, startLine: 0 })),
  );
  // the program maps its own file with -y decoration
  const file = full.records.find((x): x is MmapRecord => x.name === 'mmap' && x.args.fd.fd >= 0 && !!x.args.fd.path?.endsWith('data.bin'));
  assert.ok(file);
});

test('fixture probes: -tt -T -i, -X verbose, -f -yy on stderr', () => {
  const a = statsAddUp(read('probe-tt-T-i.txt'), 'probe-tt-T-i.txt');
  const b = statsAddUp(read('probe-X-verbose.txt'), 'probe-X-verbose.txt');
  // same calls, different spellings: the decoded values agree apart from addresses picked by the kernel
  assert.deepEqual(countByName(a.records), countByName(b.records));
  // mincore's vector is on the stack, which differs between runs
  const strip = (r: SyscallRecord): unknown =>
    r.name === 'mmap' || r.name === 'brk' || (r.name === 'other' && r.syscall === 'mincore') ? r.name : { ...r, line: 0, startLine: 0, pid: 0 };
  assert.deepEqual(a.records.map(strip).slice(-15), b.records.map(strip).slice(-15));
  const shared = a.records.find((r): r is MmapRecord => r.name === 'mmap' && r.args.flags === MAP.MAP_SHARED);
  assert.equal(shared?.args.fd.path, '/tmp/probe/a file>x.bin');
  const c = statsAddUp(read('probe-f-yy-stderr.txt'), 'probe-f-yy-stderr.txt');
  assert.ok(c.stats.messages >= 2 && c.stats.unfinished > 0 && c.stats.exits >= 2);
  assert.ok(new Set(c.records.map((r) => r.pid)).size >= 2);
});

// ---------------------------------------------------------------------------------------------------------
// Hand-written lines

test('pid prefixes, both styles, and no prefix', () => {
  const t = [
    '[pid  1234] mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000001000',
    '1235  munmap(0x7f0000001000, 8192)     = 0',
    'brk(NULL)                               = 0x555555559000',
  ].join('\n');
  const [a, b, c] = parseStrace(t);
  assert.equal(a!.pid, 1234);
  assert.equal(b!.pid, 1235);
  assert.equal(c!.pid, undefined);
  assert.deepEqual(a, {
    line: 1, startLine: 1, pid: 1234, ret: 0x7f0000001000, errno: undefined, errnoNum: undefined, lossy: false, name: 'mmap',
    args: { addr: 0, length: 8192, prot: PROT.PROT_READ | PROT.PROT_WRITE, flags: MAP.MAP_PRIVATE | MAP.MAP_ANONYMOUS, fd: { fd: -1, path: undefined }, offset: 0 },
  });
  assert.deepEqual(c!.name === 'brk' && c!.args, { addr: 0 });
  assert.equal(c!.ret, 0x555555559000);
});

test('unfinished and resumed halves are joined per pid, across interleaving', () => {
  const t = [
    '[pid 10] mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3</a b>, 0 <unfinished ...>',
    '[pid 11] mremap(0x7f0000000000, 4096, 8192, MREMAP_MAYMOVE <unfinished ...>',
    '[pid 12] read(5</proc/1/maps>,  <unfinished ...>',
    '[pid 11] <... mremap resumed>) = 0x7f0000100000',
    '[pid 10] <... mmap resumed>)           = 0x7f0000200000',
    '[pid 12] <... read resumed>"x", 10) = 1',
    '[pid 13] mincore(0x7f0000200000, 8192,  <unfinished ...>',
    '[pid 13] <... mincore resumed>[1, 0]) = 0',
    '[pid 14] madvise(0x1000, 4096, MADV_DONTNEED <unfinished ...>',
    '[pid 14] <... madvise resumed> <unfinished ...>) = ?',
    '[pid 15] munmap(0x1000, 4096 <unfinished ...>',
    '[pid 15] +++ exited with 0 +++',
    '+++ exited with 0 +++',
  ].join('\n');
  const r = parseStraceDetailed(t, 't');
  assert.deepEqual(r.records.map((x) => [x.name, x.pid, x.startLine, x.line, x.ret]), [
    ['mremap', 11, 2, 4, 0x7f0000100000],
    ['mmap', 10, 1, 5, 0x7f0000200000],
    ['other', 13, 7, 8, 0],
    ['madvise', 14, 9, 10, undefined],
  ]);
  const mm = r.records[1] as MmapRecord;
  assert.deepEqual(mm.args.fd, { fd: 3, path: '/a b' });
  const mc = r.records[2]!;
  assert.ok(mc.name === 'other');
  assert.deepEqual(mc.syscall, 'mincore');
  assert.deepEqual(mc.args, [0x7f0000200000, 8192, '[1, 0]']);
  assert.deepEqual(r.pending, [{ pid: 15, name: 'munmap', startLine: 11 }]);
  assert.equal(r.stats.nonMemory, 2);
  assert.equal(r.stats.unfinished, 5);
  assert.equal(r.stats.resumed, 4);
});

test('errno, ?, restart codes, -T suffix', () => {
  const t = [
    'mmap(0x1000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED_NOREPLACE|MAP_ANONYMOUS, -1, 0) = -1 EEXIST (File exists)',
    'munmap(0x1001, 4096) = -1 EINVAL (Invalid argument) <0.000011>',
    'brk(0x5555555a0000 <unfinished ...>) = ?',
    'madvise(0x7f0000000000, 4096, MADV_POPULATE_WRITE) = ? ERESTARTNOINTR (To be restarted)',
    'mprotect(0x1000, 4096, PROT_NONE) = -1 ENOMEM (Cannot allocate memory)',
  ].join('\n');
  // a line ending in '<unfinished ...>) = ?' is not an unfinished line: strace wrote the whole call
  const r = parseStrace(t.replace('brk(0x5555555a0000 <unfinished ...>) = ?', 'brk(0x5555555a0000) = ?'));
  assert.deepEqual(r.map((x) => [x.ret, x.errno, x.errnoNum]), [
    [-1, 'EEXIST', 17],
    [-1, 'EINVAL', 22],
    [undefined, undefined, undefined],
    [undefined, 'ERESTARTNOINTR', 513],
    [-1, 'ENOMEM', 12],
  ]);
});

test('flag spellings: names, unknown bits, huge-page shift, verbose and raw styles, octal', () => {
  const t = [
    'mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|0x200000, -1, 0) = 0x7f0000000000',
    'mmap(NULL, 4096, 0x10 /* PROT_??? */, MAP_FILE|MAP_ANONYMOUS, -1, 0) = -1 EINVAL (Invalid argument)',
    'mmap(NULL, 4096, PROT_READ|PROT_WRITE, 0x5 /* MAP_??? */, -1, 0) = -1 EBADF (Bad file descriptor)',
    'mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = -1 ENOMEM (Cannot allocate memory)',
    'mmap(NULL, 4096, 0x3 /* PROT_READ|PROT_WRITE */, 0x5 /* 0x5 /* MAP_??? */ */, -1, 0) = -1 EBADF (Bad file descriptor)',
    'mprotect(0x1000, 4096, PROT_GROWSDOWN|0x80) = -1 EINVAL (Invalid argument)',
    'mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED|MREMAP_DONTUNMAP, 0x5000) = -1 EINVAL (Invalid argument)',
    'mremap(0x1000, 4096, 8192, 0x20 /* MREMAP_??? */) = -1 EINVAL (Invalid argument)',
    'madvise(NULL, 0, 0x4d454d42 /* MADV_??? */) = -1 EINVAL (Invalid argument)',
    'madvise(0x1000, 4096, 0xa /* MADV_DONTFORK */) = 0',
    'mmap(0x10000, 010000, 03, 042, -1, 00) = 0x10000',
    'mprotect(0x1000, 4096, PROT_READ|PROT_SEM|PROT_GROWSUP) = -1 EINVAL (Invalid argument)',
  ].join('\n');
  const r = parseStrace(t);
  const f = r.map((x) => {
    switch (x.name) {
      case 'mmap': return [x.args.prot, x.args.flags];
      case 'mprotect': return [x.args.prot];
      case 'mremap': return [x.args.flags, x.args.newAddr];
      case 'madvise': return [x.args.advice];
      default: return [];
    }
  });
  assert.deepEqual(f, [
    [PROT.PROT_READ | PROT.PROT_WRITE, MAP.MAP_PRIVATE | MAP.MAP_ANONYMOUS | 0x200000],
    [0x10, 0x20],
    [3, 5],
    [PROT.PROT_READ | PROT.PROT_WRITE, MAP.MAP_PRIVATE | MAP.MAP_ANONYMOUS | MAP.MAP_HUGETLB | (21 << MAP.MAP_HUGE_SHIFT)],
    [3, 5],
    [PROT.PROT_GROWSDOWN | 0x80],
    [MREMAP.MREMAP_MAYMOVE | MREMAP.MREMAP_FIXED | MREMAP.MREMAP_DONTUNMAP, 0x5000],
    [0x20, undefined],
    [0x4d454d42],
    [MADV.MADV_DONTFORK],
    [3, 0x22], // 03, 042: octal
    [PROT.PROT_READ | PROT.PROT_SEM | PROT.PROT_GROWSUP],
  ]);
  const oct = r[10] as MmapRecord;
  assert.equal(oct.args.length, 4096);
});

test('fd decorations: spaces, escapes, nested -yy device, (deleted), no decoration', () => {
  const t = [
    'mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3</tmp/with spaces/a file\\76x.bin>, 0x1000) = 0x7f0000000000',
    'mmap(NULL, 4096, PROT_READ, MAP_SHARED, 4</dev/zero<char 1:5>>, 0) = 0x7f0000001000',
    'mmap(NULL, 4096, PROT_READ, MAP_SHARED, 5</memfd:jit (deleted)>, 0) = 0x7f0000002000',
    'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 6, 0) = 0x7f0000003000',
    'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 7</tmp/tab\\there\\\\x>, 0) = 0x7f0000004000',
    'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 8</tmp/\\xc3\\xa9t\\303\\251>, 0) = 0x7f0000005000',
  ].join('\n');
  const r = parseStrace(t) as MmapRecord[];
  assert.deepEqual(r.map((x) => x.args.fd), [
    { fd: 3, path: '/tmp/with spaces/a file>x.bin' },
    { fd: 4, path: '/dev/zero' },
    { fd: 5, path: '/memfd:jit (deleted)' },
    { fd: 6, path: undefined },
    { fd: 7, path: '/tmp/tab\there\\x' },
    { fd: 8, path: '/tmp/été' },
  ]);
  assert.equal(r[0]!.args.offset, 0x1000);
});

test('timestamps (-t, -tt, -ttt, -r), -i, -n, -Y comm names, and CRLF line ends', () => {
  const t = [
    '12:34:56 brk(NULL) = 0x1000',
    '12:34:56.123456 brk(NULL) = 0x1000',
    '1700000000.123456 brk(NULL) = 0x1000',
    '     0.000123 brk(NULL) = 0x1000',
    '1234  12:34:56.123456 [00007f54372cd829] brk(NULL) = 0x1000 <0.000004>',
    '[pid  1234] 1700000000.123456 brk(NULL) = 0x1000',
    '1234<python3> brk(NULL) = 0x1000',
    '[pid 1234<a b>c>] brk(NULL) = 0x1000',
    '[   12] [00007f54372cd829] brk(NULL) = 0x1000',
    '1700000000.123456 [????????????????] +++ exited with 0 +++',
  ].join('\r\n');
  const r = parseStraceDetailed(t, 't');
  assert.equal(r.records.length, 9);
  assert.deepEqual(r.records.map((x) => x.pid), [undefined, undefined, undefined, undefined, 1234, 1234, 1234, 1234, undefined]);
  assert.ok(r.records.every((x) => x.name === 'brk' && x.ret === 0x1000));
  assert.equal(r.stats.exits, 1);
});

test('skipped lines: exits, signals, strace messages, non-memory calls, blank', () => {
  const t = [
    'strace: Process 123 attached',
    '[pid   123] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---',
    '--- stopped by SIGSTOP ---',
    'openat(AT_FDCWD</tmp>, "/proc/self/maps", O_RDONLY|O_CLOEXEC) = 5</proc/123/maps>',
    'read(5</proc/123/maps>, "5555-6666 r--p ...", 4096) = 4096',
    'exit_group(0)                           = ?',
    '',
    '+++ killed by SIGKILL (core dumped) +++',
    '[ Process PID=123 runs in 64 bit mode. ]',
    'strace: Process 123 detached',
    'munmap(0x1000, 4096) = 0',
  ].join('\n');
  const r = parseStraceDetailed(t, 't');
  assert.equal(r.records.length, 1);
  assert.deepEqual(r.stats, { lines: 11, calls: 1, unfinished: 0, resumed: 0, nonMemory: 3, exits: 1, signals: 2, messages: 3, blank: 1 });
});

test('other memory calls: decoded best-effort, never rejected', () => {
  const t = [
    'mlock(0x1000, 4096)                     = -1 ENOMEM (Cannot allocate memory)',
    'msync(0x1000, 4096, MS_SYNC)            = 0',
    'pkey_mprotect(0x1000, 4096, PROT_READ, -1) = -1 ENOMEM (Cannot allocate memory)',
    'remap_file_pages(0x1000, 4096, PROT_NONE, 3, MAP_FILE) = -1 EINVAL (Invalid argument)',
    'mbind(0x7f0000000000, 4096, MPOL_BIND, [0x1], 64, MPOL_MF_STRICT) = 0',
    'shmat(5, NULL, SHM_RDONLY)              = 0x7f0000000000',
    'munlockall()                            = 0',
    'mseal(0x7f0000000000, 4096, 0)          = 0',
  ].join('\n');
  const r = parseStrace(t);
  assert.deepEqual(countByName(r), {
    'other:mlock': 1, 'other:msync': 1, pkey_mprotect: 1, 'other:remap_file_pages': 1, 'other:mbind': 1,
    'other:shmat': 1, 'other:munlockall': 1, 'other:mseal': 1,
  });
  const ms = r[1]!;
  assert.ok(ms.name === 'other');
  assert.deepEqual(ms.args, [0x1000, 4096, 4]);
  const pk = r[2]!;
  assert.ok(pk.name === 'pkey_mprotect');
  assert.deepEqual(pk.args, { addr: 0x1000, length: 4096, prot: 1, pkey: -1 });
  const mb = r[4]!;
  assert.ok(mb.name === 'other');
  assert.deepEqual(mb.args, [0x7f0000000000, 4096, 'MPOL_BIND', '[0x1]', 64, 'MPOL_MF_STRICT']);
  assert.equal(r[5]!.ret, 0x7f0000000000);
  assert.deepEqual(r[6]!.name === 'other' && r[6]!.args, []);
});

test('numbers beyond 2^53 are flagged lossy', () => {
  const [a, b] = parseStrace('munmap(0x1000, 18446744073709551615) = -1 EINVAL (Invalid argument)\nmunmap(0x1000, 4096) = 0\n');
  assert.equal(a!.lossy, true);
  assert.equal(b!.lossy, false);
});

test('streaming: any chunking gives the records and stats of a whole parse', () => {
  const node = read('node/trace.txt');
  const text = node.slice(0, node.indexOf('\n', 200_000) + 1) + 'brk(NULL) = 0x1000'; // last line without newline
  const whole = parseStraceDetailed(text, 'node');
  const rng = new Prng(7);
  for (let round = 0; round < 5; round++) {
    const p = new StraceParser('node');
    const got: SyscallRecord[] = [];
    for (let at = 0; at < text.length; ) {
      const n = 1 + rng.below(round === 0 ? 3 : 20_000);
      got.push(...p.push(text.slice(at, at + n)));
      at += n;
    }
    const last = p.end();
    got.push(...last.records);
    assert.deepEqual(got, whole.records);
    assert.deepEqual(last.stats, whole.stats);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Malformed input

test('malformed lines throw StraceParseError with file:line and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['mmap(NULL, 4096, PROT_READ', /expected ', ' before the flags of mmap/],
    ['mmap(NULL, 4096, PROT_BOGUS, MAP_PRIVATE, -1, 0) = 0x1000', /expected PROT_ flags \(unknown name PROT_BOGUS\)/],
    ['<... mmap resumed>) = 0x1000', /expected an earlier 'mmap\(\.\.\. <unfinished \.\.\.>' line/],
    ['this is not strace output', /expected '\(' after the system call name/],
    ['munmap(0x1000, 4096) 0', /expected ' = ' and the return value/],
    ['munmap(0x1000, 4096) = 0 junk', /expected end of line after the return value/],
    ['munmap(0x1000, 4096, 5) = 0', /expected '\)' after the arguments of munmap/],
    ['mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3</never closed, 0) = 0x1000', /expected '>' closing the path of fd 3/],
    ['mmap(NULL, 4096, PROT_READ, MAP_SHARED, -1, 0) = zzz', /expected a return value/],
    ['brk(', /expected the address of brk/],
    ['*** weird', /expected a system call/],
    ['[pid x] brk(NULL) = 0', /expected a pid and '\]'/],
    ['mmap(NULL, 1, 2, 3, -1, 0 <unfinished ...>\nmmap(NULL, 1, 2, 3, -1, 0) = 0x1000', /expected '<\.\.\. mmap resumed>' \(line 2\) before a new call/],
    ['mmap(NULL, 1, 2, 3, -1, 0 <unfinished ...>\nbrk(NULL <unfinished ...>', /expected '<\.\.\. mmap resumed>' \(line 2\) before a new call/],
  ];
  for (const [line, re] of cases) {
    const text = `brk(NULL) = 0x1000\n${line}\n`;
    assert.throws(
      () => parseStrace(text, 'bad.txt'),
      (e: unknown) => {
        assert.ok(e instanceof StraceParseError, `${line}: a StraceParseError`);
        assert.match(e.message, /^bad\.txt:[23]: expected /, line);
        assert.match(e.message, re, line);
        assert.equal(e.file, 'bad.txt');
        return true;
      },
      line,
    );
  }
});

test('random damage to real lines: a record or a StraceParseError, never another exception', () => {
  const lines = [read('python3/trace.txt'), read('node/trace.txt'), read('memtrace-seed-2/trace.txt')]
    .flatMap((t) => t.split('\n'))
    .filter((l) => l.length > 0);
  const rng = new Prng(20240601);
  const junk = ' ,()<>|/*x0-=?.[]"\\';
  for (let i = 0; i < 3000; i++) {
    let l = lines[rng.below(lines.length)]!;
    const k = rng.below(3);
    const at = rng.below(l.length);
    if (k === 0) l = l.slice(0, at);
    else if (k === 1) l = l.slice(0, at) + l.slice(at + 1 + rng.below(5));
    else l = l.slice(0, at) + junk[rng.below(junk.length)] + l.slice(at);
    try {
      parseStrace(l, 'fuzz');
    } catch (e) {
      assert.ok(e instanceof StraceParseError, `not a StraceParseError for ${JSON.stringify(l)}: ${String(e)}`);
      assert.match(e.message, /^fuzz:1: expected /);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Traces generated on the fly


test('memtrace on the fly: a few seeds parse completely and agree with their snapshots', (t) => {
  const why = memtraceUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-strace-'));
  try {
    const env = { ...process.env, MEMTRACE_BIN: path.join(tmp, 'memtrace') };
    for (const seed of [11, 222, 3333]) {
      const out = path.join(tmp, `seed-${seed}`);
      const run = spawnSync('sh', [path.join(ROOT, 'tools/memtrace/run.sh'), String(seed), '300', out], { env, timeout: 60000, encoding: 'utf8' });
      assert.equal(run.status, 0, `run.sh ${seed}: ${run.stderr}`);
      const file = path.join(out, 'trace.txt');
      const r = statsAddUp(fs.readFileSync(file, 'utf8'), file);
      assert.equal(r.records.length, 300);
      assert.equal(r.stats.lines, 300);
      const full = parseStraceDetailed(fs.readFileSync(path.join(out, 'trace.full.txt'), 'utf8'), 'full');
      assert.equal(full.stats.exits, 1, 'the program exited normally');
      const kinds = countByName(r.records);
      for (const k of ['mmap', 'munmap', 'mprotect', 'mremap', 'madvise', 'brk']) assert.ok((kinds[k] ?? 0) > 0, `${seed}: some ${k}`);
      assert.ok(r.records.some((x) => x.ret === -1), 'some calls fail on purpose');
      checkMappedPages(fs.readFileSync(path.join(out, 'before.maps'), 'utf8'), r.records, fs.readFileSync(path.join(out, 'after.maps'), 'utf8'), `seed ${seed}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
