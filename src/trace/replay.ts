/**
 * Replay of an strace memory trace on a Linux-exact address space (src/mm), starting from the
 * /proc/PID/maps snapshot taken just before the trace's first call.
 *
 * What BEFORE cannot say, and how it is inferred (each can be given instead; see ReplayOptions):
 *  - mmap_base: without address randomisation (setarch -R) x86-64 puts it at TASK_SIZE minus the stack gap,
 *    max(128 MiB, RLIMIT_STACK + stack_guard_gap) = 0x7ffff7fff000 with the default 8 MiB rlimit; we assume
 *    that when [stack] ends at TASK_SIZE. Otherwise we take the highest end of a mapping below [stack]
 *    that is not a special one — wrong when the top of the mmap area was unmapped before BEFORE.
 *  - start_brk and brk: [heap]'s start and end; with no [heap], the end of the executable's last VMA (its
 *    bss), which is where an un-randomised brk starts. maps shows neither an unaligned break nor a
 *    randomised empty heap, but the trace's first brk does when it is a query (brk(0), as glibc's first one
 *    is) or a refused call: it returns mm->brk unchanged. So when the first brk's result is not its
 *    argument, that result is the break (and, with no [heap], start_brk too).
 *  - Invisible VMA state: BEFORE's private writable VMAs (and [stack], [heap]) are taken to have faulted (an
 *    anon_vma of their own) and to be charged (VM_ACCOUNT); others neither.
 *  - Files: VMAs compare the struct file, not the inode, so a file is identified by (fd, path) of the
 *    mmap; BEFORE's VMAs of a path are taken to come from the lowest fd that maps that path in the trace.
 *    An fd is read-only when a MAP_SHARED, PROT_WRITE mmap of it failed with EACCES. File sizes (for faults
 *    beyond EOF) come from --file-size, else from the file on this machine if it exists, else unlimited.
 *
 * What the trace cannot show, and how it is inferred:
 *  - Writes. A private VMA that becomes writable during the trace (made by mmap, brk or mremap, or made
 *    writable by mprotect) is taken to be written by the thread that made it, before that thread's next call
 *    that does not map or protect the pages right beside it: programs map writable memory to write it
 *    (malloc arenas, thread stacks, JIT heaps), and commit a reserved range in several calls before they use
 *    it (the JVM commits its heaps page by page). The write does what anon_vma_prepare() does at the first
 *    write fault: the VMA gets an anon_vma (a compatible neighbour's, else its own), which decides its later
 *    merges and moves — the JVM's class space is kept apart from a chunk written before it. This is right on
 *    every real program we recorded (test/fixtures/strace/README.md); writing at once, or never, is wrong
 *    on one of them each. `assumeWritten: false` (`--no-assume-written`) is the other choice: nothing is
 *    written but what MAP_POPULATE and MADV_POPULATE_* fault in, as in memtrace's synthetic traces.
 *  - Unlinks: a mapped file that was unlinked shows " (deleted)" in AFTER; compareLayouts ignores that.
 *
 * Not replayed (counted as skipped): calls this mm does not model — mlock and friends, msync, mincore, and
 * mbind / set_mempolicy_home_node. A VMA's NUMA policy takes part in merges (vma_merge compares it with
 * mpol_equal) and mbind splits VMAs at its range, so a trace that binds part of a mapping to a policy other
 * than its neighbours' can leave more VMAs in AFTER than the replay shows; no program we recorded calls it.
 */
import { existsSync, statSync } from 'node:fs';
import { EINVAL, MAP_ANONYMOUS, MAP_PRIVATE, MAP_TYPE, PROT_WRITE } from '../mm/uapi.js';
import { MmStruct, TASK_SIZE_64, hex8 } from '../mm/mm.js';
import { sysBrk, sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import { sysMadvise } from '../mm/madvise.js';
import { sysMremap } from '../mm/mremap.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { NAME_ANON, NAME_SPECIAL } from '../mm/vma.js';
import {
  VM_ACCOUNT, VM_DONTDUMP, VM_DONTEXPAND, VM_EXEC, VM_GROWSDOWN, VM_IO, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE,
  VM_MAYWRITE, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE,
} from '../mm/vm-flags.js';
import { formatMapsLine, mmEntries, parseMaps, parseSnapshot, type MapsEntry } from './maps.js';
import { parseStraceDetailed, ERRNO, type SyscallRecord } from './strace.js';

export interface ReplayOptions {
  mmapBase?: number;
  /** Initial program break (mm->brk), when BEFORE's [heap] does not say it exactly. */
  brk?: number;
  /** mm->start_brk, when BEFORE has no [heap] and the break was randomised. */
  startBrk?: number;
  /** CONFIG_TRANSPARENT_HUGEPAGE alignment of large anonymous mappings (default on, like the host). */
  thp?: boolean;
  /** Files placed by thp_get_unmapped_area, as ext4 and xfs do on 6.18 (default on). */
  fileThp?: boolean;
  /** File sizes in bytes by path. */
  fileSizes?: Record<string, number>;
  /** VMA records to reserve (default: 8192, or 4 per BEFORE line + 4096 if more). */
  capacity?: number;
  /** Private VMAs made writable are taken to be written by their thread, soon (default on; "Writes" in the header). */
  assumeWritten?: boolean;
  /** Validate the mm after every call (slow; for tests). */
  validate?: boolean;
  /**
   * Told of every call replayed (not the skipped ones), with the mm as the call left it — `replay --html`
   * draws the layout after each. Only the pass whose result is returned reports: the passes that look for
   * read-only fds (replayRecords) replay the same calls on mms that are thrown away.
   */
  onCall?: (call: ReplayedCall, mm: MmStruct) => void;
}

/** One replayed call, as ReplayOptions.onCall is told of it. */
export interface ReplayedCall {
  record: SyscallRecord;
  /** The call as describe() prints it: `mmap(0x…, 8192, 3, 0x22, -1, 0)`. */
  call: string;
  /** The result strace recorded and ours, as divergences print them (`0x7f…`, `-1 ENOMEM`, `0`). */
  expected: string;
  actual: string;
  /** Our return value (a negative errno on failure). */
  result: number;
  matched: boolean;
}

export interface Divergence {
  /** 1-based trace line that completed the call. */
  line: number;
  call: string;
  expected: string;
  actual: string;
}

export interface ReplayResult {
  calls: number;
  /** Calls whose result matched. */
  matched: number;
  /** Calls not replayed: result unknown (`= ?`) or a call this mm does not model. */
  skipped: number;
  firstDivergence: Divergence | undefined;
  divergences: number;
  /** Final layout, kernel maps format. */
  maps: string;
  mm: MmStruct;
}

export class ReplayInputError extends Error {
  override name = 'ReplayInputError';
}

const SPECIAL_FLAGS: Record<string, number> = {
  '[vvar]': VM_READ | VM_MAYREAD | VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
  '[vvar_vclock]': VM_READ | VM_MAYREAD | VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
  '[vdso]': VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_DONTEXPAND,
  '[uprobes]': VM_EXEC | VM_MAYEXEC | VM_DONTEXPAND | VM_IO,
};

/** Builds the mm that BEFORE shows. `fdFor` maps a path to the fd key its BEFORE VMAs are bound to. */
export function loadMaps(entries: readonly MapsEntry[], opts: ReplayOptions, fileKeyFor: (path: string) => string = (p) => p,
  files: Map<string, number> = new Map(), fileSizeOf: (path: string) => number = () => Infinity): MmStruct {
  const es = mmEntries(entries);
  const stack = es.find((e) => e.path === '[stack]');
  let mmapBase = opts.mmapBase;
  if (mmapBase === undefined) {
    if (stack && stack.end === TASK_SIZE_64) mmapBase = TASK_SIZE_64 - 128 * 1024 * 1024;
    else {
      mmapBase = 0;
      for (const e of es) {
        if (stack && e.start >= stack.start) continue;
        if (e.path.startsWith('[') && e.path !== '[heap]' && !e.path.startsWith('[anon:')) continue;
        if (e.end > mmapBase) mmapBase = e.end;
      }
    }
  }
  const capacity = opts.capacity ?? Math.max(8192, 4 * es.length + 4096);
  const mm = new MmStruct({ mmapBase, thp: opts.thp ?? true, fileThp: opts.fileThp ?? true, capacity });
  let shmemInode = 0;
  const t = mm.vmas;
  const heaps = es.filter((e) => e.path === '[heap]');
  if (heaps.length) {
    mm.startBrk = heaps[0]!.start;
    mm.brk = heaps[heaps.length - 1]!.end;
  } else {
    // The executable: the first file mapped; its bss (an anonymous VMA right after it), if any.
    const first = es.find((e) => e.path.startsWith('/'));
    let end = 0;
    if (first) {
      let i = es.indexOf(first);
      while (i + 1 < es.length && (es[i + 1]!.path === first.path || (es[i + 1]!.path === '' && es[i + 1]!.start === es[i]!.end))) {
        i++;
        if (es[i]!.path === '') break;
      }
      end = es[i]!.end;
    }
    mm.startBrk = end;
    mm.brk = end;
  }
  if (opts.startBrk !== undefined) mm.startBrk = opts.startBrk;
  if (opts.brk !== undefined) mm.brk = opts.brk;
  mm.startStack = stack ? stack.end - PAGE_SIZE : 0;
  for (const e of es) {
    let flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if (e.perms[0] === 'r') flags |= VM_READ;
    if (e.perms[1] === 'w') flags |= VM_WRITE;
    if (e.perms[2] === 'x') flags |= VM_EXEC;
    const shared = e.perms[3] === 's';
    if (shared) flags |= VM_MAYSHARE | VM_SHARED;
    let file = 0;
    let nameKind = 0;
    let nameId = 0;
    let anon = 0;
    const special = SPECIAL_FLAGS[e.path];
    if (special !== undefined) {
      flags = special;
      nameKind = NAME_SPECIAL;
      nameId = mm.addName(e.path);
    } else if (e.path.startsWith('[anon:')) {
      nameKind = NAME_ANON;
      nameId = mm.addName(e.path.slice(6, -1));
    } else if (e.path === '/dev/zero (deleted)' || e.path.startsWith('/SYSV')) {
      const key = `${e.dev} ${e.inode}`;
      file = files.get(key) ?? 0;
      if (!file) {
        file = mm.addFile({ path: e.path, dev: e.dev, inode: e.inode, writable: true, readable: true, size: Infinity, shmem: true });
        files.set(key, file);
      }
      if (e.inode >= shmemInode) shmemInode = e.inode + 1;
    } else if (e.path !== '' && e.path !== '[heap]' && e.path !== '[stack]' && !e.path.startsWith('[')) {
      const key = fileKeyFor(e.path);
      file = files.get(key) ?? 0;
      if (!file) {
        file = mm.addFile({ path: e.path, dev: e.dev, inode: e.inode, writable: true, readable: true, size: fileSizeOf(e.path), shmem: false });
        files.set(key, file);
      }
    } else if (e.path.startsWith('[') && e.path !== '[heap]' && e.path !== '[stack]') {
      nameKind = NAME_SPECIAL;
      nameId = mm.addName(e.path);
      flags |= VM_DONTEXPAND;
    }
    if (e.path === '[stack]') flags |= VM_GROWSDOWN;
    if (nameKind !== NAME_SPECIAL && !shared && (flags & VM_WRITE)) {
      flags |= VM_ACCOUNT;
      anon = mm.newAnonVma();
    }
    const pgoff = file ? e.offset / PAGE_SIZE : e.start / PAGE_SIZE;
    const v = t.alloc(e.start, e.end, pgoff, flags, file, anon, nameKind, nameId);
    mm.link(v);
  }
  mm.setShmemInodeBase(shmemInode || 1);
  return mm;
}

function describe(r: SyscallRecord): string {
  const h = (n: number | undefined) => (n === undefined ? '?' : '0x' + n.toString(16));
  switch (r.name) {
    case 'mmap': return `mmap(${h(r.args.addr)}, ${r.args.length}, ${r.args.prot}, 0x${r.args.flags.toString(16)}, ${r.args.fd.fd}, ${h(r.args.offset)})`;
    case 'munmap': return `munmap(${h(r.args.addr)}, ${r.args.length})`;
    case 'mprotect': return `mprotect(${h(r.args.addr)}, ${r.args.length}, 0x${r.args.prot.toString(16)})`;
    case 'pkey_mprotect': return `pkey_mprotect(${h(r.args.addr)}, ${r.args.length}, 0x${r.args.prot.toString(16)}, ${r.args.pkey})`;
    case 'mremap': return `mremap(${h(r.args.addr)}, ${r.args.oldLength}, ${r.args.newLength}, ${r.args.flags}${r.args.newAddr !== undefined ? ', ' + h(r.args.newAddr) : ''})`;
    case 'brk': return `brk(${h(r.args.addr)})`;
    case 'madvise': return `madvise(${h(r.args.addr)}, ${r.args.length}, ${r.args.advice})`;
    default: return `${r.syscall}(…)`;
  }
}

const errnoName = (n: number) => Object.keys(ERRNO).find((k) => ERRNO[k] === n) ?? `E${n}`;
function showResult(name: string, v: number): string {
  if (v < 0) return `-1 ${errnoName(-v)}`;
  return name === 'mmap' || name === 'mremap' || name === 'brk' ? '0x' + v.toString(16) : String(v);
}

/**
 * Replays `traceText` from `beforeText`. Throws StraceParseError / MapsParseError / ReplayInputError on
 * malformed input.
 */
export function replay(traceText: string, beforeText: string, opts: ReplayOptions = {}, traceFile = '<trace>', beforeFile = '<maps>'): ReplayResult {
  const before = parseSnapshot(beforeText, beforeFile);
  const { records } = parseStraceDetailed(traceText, traceFile);
  return replayRecords(records, before, opts);
}

export function replayRecords(records: readonly SyscallRecord[], before: readonly MapsEntry[], opts: ReplayOptions = {}): ReplayResult {
  // Pre-scan: which fds map which paths, which are surely read-only.
  const lowestFd = new Map<string, number>();
  const readOnly = new Set<string>();
  for (const r of records) {
    if (r.name !== 'mmap' || (r.args.flags & MAP_ANONYMOUS) || r.args.fd.path === undefined) continue;
    const p = r.args.fd.path;
    const fd = r.args.fd.fd;
    const lo = lowestFd.get(p);
    if (lo === undefined || fd < lo) lowestFd.set(p, fd);
    if (r.errno === 'EACCES' && (r.args.flags & MAP_TYPE) !== MAP_PRIVATE && (r.args.prot & PROT_WRITE)) readOnly.add(`${fd}\0${p}`);
  }
  // The break, from the first brk when it is a query or refused (it then returns mm->brk).
  if (opts.brk === undefined) {
    const b = records.find((r) => r.name === 'brk' && r.ret !== undefined);
    if (b && b.name === 'brk' && b.ret !== b.args.addr && b.ret! > 0) {
      const heap = before.some((e) => e.path === '[heap]');
      opts = heap ? { ...opts, brk: b.ret! } : { ...opts, brk: b.ret!, startBrk: opts.startBrk ?? b.ret! };
    }
  }
  // An fd opened read-only that never failed a shared writable mmap shows only when an mprotect adding
  // PROT_WRITE to its shared mapping fails with EACCES (no VM_MAYWRITE). When our replay of such a call
  // succeeds, the fds behind the shared file VMAs in its range are the suspects: we replay again with each
  // marked read-only in turn and keep the first that carries the replay past that call.
  for (let attempt = 0; attempt < 64; attempt++) {
    const r = replayOnce(records, before, { ...opts, onCall: undefined }, lowestFd, readOnly, true);
    // A pass that found no suspect ran to the end, as the last pass below would: the same result.
    if (r.suspects.length === 0) return opts.onCall ? replayOnce(records, before, opts, lowestFd, readOnly, false).result : r.result;
    let advanced = false;
    for (const k of r.suspects) {
      const trial = new Set(readOnly).add(k);
      const r2 = replayOnce(records, before, { ...opts, onCall: undefined }, lowestFd, trial, true);
      const reached = r2.suspects.length ? r2.stopLine : (r2.result.firstDivergence?.line ?? Infinity);
      if (reached > r.stopLine) {
        readOnly.add(k);
        advanced = true;
        break;
      }
    }
    if (!advanced) break;
  }
  return replayOnce(records, before, opts, lowestFd, readOnly, false).result;
}

function replayOnce(records: readonly SyscallRecord[], before: readonly MapsEntry[], opts: ReplayOptions,
  lowestFd: Map<string, number>, readOnly: Set<string>, stopOnSuspect: boolean): { result: ReplayResult; suspects: string[]; stopLine: number } {
  const keyOf = (fd: number, path: string) => `${fd}\0${path}`;
  const sizes = opts.fileSizes ?? {};
  const fileSizeOf = (path: string): number => {
    if (sizes[path] !== undefined) return sizes[path]!;
    try {
      if (path.startsWith('/') && existsSync(path)) return statSync(path).size;
    } catch { /* unknown */ }
    return Infinity;
  };
  const files = new Map<string, number>();
  const mm = loadMaps(before, opts, (p) => (lowestFd.has(p) ? keyOf(lowestFd.get(p)!, p) : p), files, fileSizeOf);
  const pathInfo = new Map<string, { dev: string; inode: number }>();
  for (const e of before) if (e.path.startsWith('/')) pathInfo.set(e.path, { dev: e.dev, inode: e.inode });
  const keyOfFile: string[] = [];
  for (const [k, f] of files) keyOfFile[f] = k;
  const fileFor = (fd: number, path: string | undefined): number => {
    if (fd < 0 || path === undefined) return -1;
    const k = keyOf(fd, path);
    let f = files.get(k);
    if (f === undefined) {
      const info = pathInfo.get(path);
      f = mm.addFile({ path, dev: info?.dev ?? '00:00', inode: info?.inode ?? 0, writable: !readOnly.has(k), readable: true, size: fileSizeOf(path), shmem: false });
      files.set(k, f);
      keyOfFile[f] = k;
    }
    return f;
  };
  // BEFORE's files bound to an fd take that fd's mode.
  for (const [k, f] of files) if (readOnly.has(k)) mm.files[f]!.writable = false;

  let matched = 0, skipped = 0, divergences = 0;
  let first: Divergence | undefined;
  let suspectsAt: string[] = [];
  let stopLine = 0;
  const assumeWritten = opts.assumeWritten ?? true;
  // Per thread: the range it made writable and has not written yet (see "Writes" in the header).
  const unwritten = new Map<number, [number, number]>();
  for (const r of records) {
    if (r.ret === undefined) { skipped++; continue; }
    const p = unwritten.get(r.pid ?? 0);
    if (p && !besideOrOver(r, p)) {
      writeInto(mm, p[0], p[1]);
      unwritten.delete(r.pid ?? 0);
    }
    const brkBefore = mm.brk;
    let res: number;
    let suspects: string[] | undefined;
    switch (r.name) {
      case 'mmap': {
        const a = r.args;
        res = sysMmap(mm, a.addr, a.length, a.prot, a.flags, (a.flags & MAP_ANONYMOUS) ? 0 : fileFor(a.fd.fd, a.fd.path), a.offset);
        break;
      }
      case 'munmap': res = sysMunmap(mm, r.args.addr, r.args.length); break;
      case 'mprotect':
      case 'pkey_mprotect':
        if (r.errno === 'EACCES' && (r.args.prot & PROT_WRITE)) suspects = sharedFileKeys(mm, r.args.addr, r.args.length, keyOfFile, readOnly);
        res = r.name === 'mprotect' || r.args.pkey === -1 ? sysMprotect(mm, r.args.addr, r.args.length, r.args.prot) : -EINVAL;
        break;
      case 'mremap': res = sysMremap(mm, r.args.addr, r.args.oldLength, r.args.newLength, r.args.flags, r.args.newAddr ?? 0); break;
      case 'brk': res = sysBrk(mm, r.args.addr); break;
      case 'madvise': res = sysMadvise(mm, r.args.addr, r.args.length, r.args.advice); break;
      default: skipped++; continue;
    }
    const made = assumeWritten && res >= 0 ? writableRange(r, res, brkBefore, mm.brk) : null;
    if (made) {
      const p = unwritten.get(r.pid ?? 0); // if any, r was beside or over it
      if (p) {
        p[0] = Math.min(p[0], made[0]);
        p[1] = Math.max(p[1], made[1]);
      } else unwritten.set(r.pid ?? 0, made);
    }
    if (opts.validate) mm.validate();
    const expected = r.ret === -1 && r.errnoNum !== undefined ? -r.errnoNum : r.ret;
    opts.onCall?.({ record: r, call: describe(r), expected: showResult(r.name, expected), actual: showResult(r.name, res), result: res, matched: res === expected }, mm);
    if (res === expected) matched++;
    else {
      if (stopOnSuspect && divergences === 0 && suspects && suspects.length) {
        suspectsAt = suspects;
        stopLine = r.line;
        break;
      }
      divergences++;
      first ??= { line: r.line, call: describe(r), expected: showResult(r.name, expected), actual: showResult(r.name, res) };
    }
  }
  for (const p of unwritten.values()) writeInto(mm, p[0], p[1]);
  // The gate VMA ([vsyscall]) is not in the tree; the kernel prints it after the last VMA, and so do we.
  let maps = mm.formatMaps();
  for (const e of before) if (e.gate) maps += formatMapsLine(e) + '\n';
  return { result: { calls: records.length, matched, skipped, firstDivergence: first, divergences, maps, mm }, suspects: suspectsAt, stopLine };
}

/** Keys of the (not yet read-only) files behind shared file VMAs in [addr, addr + len). */
function sharedFileKeys(mm: MmStruct, addr: number, len: number, keyOfFile: string[], readOnly: Set<string>): string[] {
  const out: string[] = [];
  const t = mm.vmas;
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  let v = mm.findVmaIntersection(addr, end);
  while (v !== 0) {
    const f = t.file(v);
    const k = keyOfFile[f];
    if (f !== 0 && (t.flags(v) & VM_MAYSHARE) && !mm.files[f]!.shmem && k !== undefined && !readOnly.has(k) && !out.includes(k)) out.push(k);
    if (t.end(v) >= end) break;
    v = mm.findVmaIntersection(t.end(v), end);
  }
  return out;
}

const pageAlign = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** The range a successful call made writable (or may have), for assumeWritten; null when none. */
function writableRange(r: SyscallRecord, res: number, brkBefore: number, brkAfter: number): [number, number] | null {
  switch (r.name) {
    case 'mmap': return r.args.prot & PROT_WRITE ? [res, res + pageAlign(r.args.length)] : null;
    case 'mprotect': case 'pkey_mprotect': return r.args.prot & PROT_WRITE ? [r.args.addr, r.args.addr + pageAlign(r.args.length)] : null;
    case 'mremap': return [res, res + pageAlign(r.args.newLength)];
    case 'brk': return brkAfter > brkBefore ? [Math.floor(brkBefore / PAGE_SIZE) * PAGE_SIZE, pageAlign(brkAfter)] : null;
    default: return null;
  }
}

/** Whether r mapped or protected pages beside or over [range[0], range[1]) (a commit of a reserved range in parts). */
function besideOrOver(r: SyscallRecord, range: [number, number]): boolean {
  if ((r.name !== 'mmap' && r.name !== 'mprotect' && r.name !== 'pkey_mprotect') || r.ret === undefined || r.ret === -1) return false;
  const start = r.name === 'mmap' ? r.ret : r.args.addr;
  return start <= range[1] && start + pageAlign(r.args.length) >= range[0];
}

/** A write into every private writable VMA of [start, end): anon_vma_prepare() at the first write fault. */
function writeInto(mm: MmStruct, start: number, end: number): void {
  const t = mm.vmas;
  let v = mm.findVmaIntersection(start, end);
  while (v !== 0) {
    if (t.anon(v) === 0 && t.nameKind(v) !== NAME_SPECIAL && !(t.flags(v) & (VM_IO | VM_PFNMAP)) && mm.faultGivesAnonVma(v, true)) mm.anonVmaPrepare(v);
    if (t.end(v) >= end) break;
    v = mm.findVmaIntersection(t.end(v), end);
  }
}

export interface LayoutDiff {
  equal: boolean;
  /** Unified-style lines: ' ' common, '-' only expected, '+' only actual. */
  lines: string[];
}

/**
 * Compares two layouts, ignoring dev and inode (and the gate VMA), and whether a file is " (deleted)": a
 * program that unlinks a file it maps (the JVM's hsperfdata, temporary files) does so with unlink, not a
 * memory call, so the trace cannot show it.
 */
export function compareLayouts(expectedText: string, actualText: string, expectedFile = '<expect>'): LayoutDiff {
  const key = (e: MapsEntry) => `${hex8(e.start)}-${hex8(e.end)} ${e.perms} ${hex8(e.offset)} ${e.path.replace(/ \(deleted\)$/, '')}`;
  const exp = mmEntries(parseSnapshot(expectedText, expectedFile)).map(key);
  const act = mmEntries(parseMaps(actualText, '<actual>')).map(key);
  // LCS-free merge by address order: both lists are sorted by start.
  const lines: string[] = [];
  let i = 0, j = 0, equal = true;
  while (i < exp.length || j < act.length) {
    if (i < exp.length && j < act.length && exp[i] === act[j]) { lines.push('  ' + exp[i]); i++; j++; continue; }
    equal = false;
    const ea = i < exp.length ? parseInt(exp[i]!.slice(0, exp[i]!.indexOf('-')), 16) : Infinity;
    const aa = j < act.length ? parseInt(act[j]!.slice(0, act[j]!.indexOf('-')), 16) : Infinity;
    if (ea <= aa) lines.push('- ' + exp[i++]);
    else lines.push('+ ' + act[j++]);
  }
  return { equal, lines };
}
